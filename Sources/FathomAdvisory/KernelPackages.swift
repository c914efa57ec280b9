/// Packages that hold a Linux kernel or its modules. A container runs on its host's kernel, never
/// on one installed in its image, so their findings are reported apart and left out of the
/// verdict unless `--include-kernel` (Grype, Clair and osv-scanner leave them out the same way).
/// Packages of userland built from the kernel's source (headers, perf, bpftool, `linux-libc-dev`)
/// do run in a container and are not among them.
public enum KernelPackages {
    /// Alpine's kernel flavours (`linux-pam`, `linux-headers` and `linux-firmware-*` are not kernels).
    static let alpine: Set<String> = [
        "linux-lts", "linux-virt", "linux-edge", "linux-stable", "linux-rpi", "linux-rpi2", "linux-rpi4", "linux-vanilla", "linux-asahi",
    ]
    /// Red Hat-family and SUSE kernel packages that are not the kernel itself.
    static let rpmUserland: Set<String> = ["kernel-headers", "kernel-tools", "kernel-tools-libs", "kernel-tools-libs-devel", "kernel-devel",
        "kernel-doc", "kernel-abi-stablelists", "kernel-abi-whitelists", "kernel-srpm-macros", "kernel-cross-headers", "kernel-rpm-macros",
        "kernel-default-devel", "kernel-macros", "kernel-source", "kernel-syms"]

    public static func holdsKernel(ecosystem: String, name: String) -> Bool {
        switch ecosystem {
        case "deb": return name.hasPrefix("linux-image-") || name.hasPrefix("linux-modules-")
        case "rpm":
            guard name == "kernel" || name.hasPrefix("kernel-") else { return false }
            return !rpmUserland.contains(name) && !name.hasSuffix("-devel") && !name.hasSuffix("-headers")
        case "apk": return alpine.contains(name)
        default: return false
        }
    }
}
