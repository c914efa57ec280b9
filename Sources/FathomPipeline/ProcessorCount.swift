import Foundation

/// The cores this process may use.
enum ProcessorCount {
    static var active: Int { ProcessInfo.processInfo.activeProcessorCount }
}
