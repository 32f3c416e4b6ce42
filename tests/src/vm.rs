//! VM lab: a Debian kernel with the IPVS modules booted under qemu (TCG) with
//! a busybox initramfs; scenarios run as `/init`, results read from the
//! serial console.

use std::path::PathBuf;

/// Where the unpacked kernel package is cached (see `.ci/fetch-kernel`).
pub fn kernel_dir() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vm-kernel");
    let boot = root.join("boot");
    let has_vmlinuz = std::fs::read_dir(&boot)
        .map_err(|_| format!("{} missing", boot.display()))?
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"));
    if has_vmlinuz {
        Ok(root)
    } else {
        Err(format!("no vmlinuz-* in {}", boot.display()))
    }
}
