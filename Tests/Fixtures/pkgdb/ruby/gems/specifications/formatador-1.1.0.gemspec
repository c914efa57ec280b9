# -*- encoding: utf-8 -*-
# stub: formatador 1.1.0 ruby lib

Gem::Specification.new do |s|
  s.name = "formatador".freeze
  s.version = "1.1.0".freeze

  s.require_paths = ["lib".freeze]
  s.authors = ["geemus (Wesley Beary)".freeze]
  s.date = "2026-04-17".freeze
  s.email = "geemus@gmail.com".freeze
  s.files = ["lib/formatador.rb".freeze]
  s.homepage = "https://github.com/geemus/#{s.name}".freeze
  s.licenses = ["MIT".freeze]
  s.required_ruby_version = Gem::Requirement.new(">= 0".freeze)
  s.rubygems_version = "3.5.22".freeze
  s.summary = "Ruby STDOUT text progress bar library".freeze
end
