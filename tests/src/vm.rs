//! VM lab: a Debian kernel with the IPVS modules booted under qemu (TCG) with
//! a busybox initramfs; scenarios run as `/init`, results read from the
//! serial console.
//!
//! The host kernel has no IPVS, so everything that needs the real kernel
//! tables runs here. The flow:
//!
//! 1. [`Kernel::cached`] finds the kernel unpacked by `.ci/fetch-kernel`.
//! 2. [`InitramfsBuilder`] packs busybox, iproute2's `ip`, `ipvsadm`, any
//!    host program a test adds (with the libraries `ldd` lists), the kernel
//!    modules (dependencies resolved from their `depends=`/`softdep=`
//!    modinfo strings) and the prologue `fixtures/vm/init.sh` plus the
//!    helpers `fixtures/vm/lib.sh` into a cpio (newc) archive, cached under
//!    `target/vm-cache/` by content.
//! 3. [`Initramfs::run`] appends a small second cpio with the [`Scenario`]
//!    (script and input files; the kernel unpacks concatenated archives),
//!    boots qemu, and parses the `@@KR` result lines into a [`VmOutput`].
//!    A VM that panics, hangs past its deadline or reports no exit status is
//!    an `Err`, never a skip.
//!
//! Running keepalived-rs as the seed's LVS-DR director and reading the
//! kernel's IPVS table back (`fixtures/vm/lvs-dr-director.sh` documents
//! the values it reports, [`DirectorRun`] holds them parsed):
//!
//! ```no_run
//! use testlab::vm::{
//!     parse_ipvsadm_ln, run_lvs_dr_director, workspace_binary, DirectorSpec, InitramfsBuilder,
//!     Kernel, Scenario,
//! };
//! # fn main() -> Result<(), testlab::vm::VmError> {
//! let image = InitramfsBuilder::new(Kernel::cached()?)
//!     .program_as(workspace_binary("keepalived-rs")?, "/usr/sbin/keepalived-rs")
//!     .build()?;
//! let conf = std::fs::read(testlab::vm::fixtures_dir().join("lvs-dr-keepalived.conf"))
//!     .map_err(|e| testlab::vm::VmError::Io { path: "conf".into(), source: e })?;
//! let run = run_lvs_dr_director(
//!     &image,
//!     &DirectorSpec {
//!         command: "keepalived-rs -n -l -f /etc/keepalived/keepalived.conf",
//!         config: &conf,
//!         reload_config: None,
//!         backup: None,
//!     },
//! )?;
//! assert_eq!(run.ipvs[0].destinations.len(), 2);
//! // Or a scenario of one's own, reading results from the console:
//! let out = image.run(&Scenario::new("kr_run t ipvsadm -Ln\n"))?;
//! assert!(parse_ipvsadm_ln(&out.text("t")?)?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Scenario scripts are busybox `sh`; the helpers they can use (namespaces,
//! bridge, the LVS-DR topology, result reporting) are in `fixtures/vm/lib.sh`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// The directory of the VM scenario scripts (`fixtures/vm`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/vm")
}

/// What the VM lab tests that run keepalived 2.2.7 in the VM as the oracle
/// need on the host: qemu, the kernel image, the programs the initramfs
/// carries, and keepalived (last: [`VM_NEEDS`] is the rest).
pub const VM_NEEDS_WITH_KEEPALIVED: &[crate::Need] = &[
    crate::Need::Program("qemu-system-x86_64"),
    crate::Need::VmKernel,
    crate::Need::Program("busybox"),
    crate::Need::Program("ip"),
    crate::Need::Program("ipvsadm"),
    crate::Need::Program("ldd"),
    crate::Need::Program("keepalived"),
];

/// What every VM lab test needs on the host.
pub const VM_NEEDS: &[crate::Need] = VM_NEEDS_WITH_KEEPALIVED
    .split_at(VM_NEEDS_WITH_KEEPALIVED.len() - 1)
    .0;

/// A file of `fixtures/ipvs-daemon` (the daemon's VM scenarios and their
/// configurations), read whole; a missing fixture is a broken checkout.
pub fn ipvs_daemon_fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/ipvs-daemon")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A binary of this workspace built by cargo (`target/debug/NAME`, e.g.
/// `keepalived-rs`), to copy into an image with
/// [`InitramfsBuilder::program_as`]. Tests of other packages cannot use
/// `CARGO_BIN_EXE_*`; they build it first (`cargo build -p keepalived-rs`).
pub fn workspace_binary(name: &str) -> Result<PathBuf, VmError> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/debug")
        .join(name);
    if crate::on_path(&p.to_string_lossy()) {
        Ok(p)
    } else {
        Err(VmError::ProgramMissing(p.display().to_string()))
    }
}

/// Where built initramfs images are cached.
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/vm-cache")
}

/// The prologue run as `/init`.
const INIT_SH: &str = include_str!("../../fixtures/vm/init.sh");
/// The helpers sourced before every scenario (`/lib/kr/lib.sh`).
const LIB_SH: &str = include_str!("../../fixtures/vm/lib.sh");

/// The prefix of every result line on the serial console.
pub const RESULT_PREFIX: &str = "@@KR ";

/// Modules every image loads: IPVS with its netfilter dependencies, and what
/// topologies inside the VM need (veth, bridge). Their own dependencies are
/// added from modinfo.
pub const BASE_MODULES: &[&str] = &["ip_vs", "veth", "bridge"];

/// IPVS schedulers (and helpers) loaded when the kernel has them; each only
/// depends on `ip_vs`. `ip_vs_twos` is newer than Debian 12's 6.1 kernel.
pub const OPTIONAL_MODULES: &[&str] = &[
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_mh",
    "ip_vs_twos",
];

/// What can go wrong in the VM lab. Every variant fails a lab test.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The cached kernel is missing or incomplete.
    #[error("VM kernel: {0}")]
    Kernel(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A required module (or one of its dependencies) is not in the kernel.
    #[error("kernel module {module} not found (needed by {needed_by})")]
    ModuleMissing {
        /// The missing module.
        module: String,
        /// Who asked for it.
        needed_by: String,
    },
    /// A program to copy into the image is not on PATH.
    #[error("program {0} not found on PATH")]
    ProgramMissing(String),
    /// `ldd` could not list a program's libraries.
    #[error("ldd {program}: {message}")]
    Ldd {
        /// The program.
        program: PathBuf,
        /// What ldd said.
        message: String,
    },
    /// A cpio archive is malformed (only when reading one back).
    #[error("cpio: {0}")]
    Cpio(String),
    /// qemu could not be started.
    #[error("starting qemu: {0}")]
    Spawn(std::io::Error),
    /// The guest kernel panicked.
    #[error("VM kernel panic: {message}; console tail:\n{console_tail}")]
    Panic {
        /// The kernel's `Kernel panic - not syncing: ...` line.
        message: String,
        /// The last console lines (the panic's register and stack dump).
        console_tail: String,
    },
    /// The VM did not finish before its deadline and was killed.
    #[error("VM timed out after {after:?}; console tail:\n{console_tail}")]
    Timeout {
        /// The deadline that passed.
        after: Duration,
        /// The last console lines.
        console_tail: String,
    },
    /// The VM stopped without reporting the scenario's exit status.
    #[error("VM stopped without a result; console tail:\n{console_tail}")]
    NoResult {
        /// The last console lines.
        console_tail: String,
    },
    /// The guest reported setup errors (`@@KR error`), e.g. a failed insmod.
    #[error("VM reported errors: {errors:?}; console tail:\n{console_tail}")]
    Guest {
        /// The reported messages, in order.
        errors: Vec<String>,
        /// The last console lines.
        console_tail: String,
    },
    /// The scenario script exited non-zero.
    #[error("scenario exited with status {status}; console tail:\n{console_tail}")]
    ScenarioFailed {
        /// Its exit status.
        status: i32,
        /// The last console lines.
        console_tail: String,
    },
    /// A result line could not be decoded (corrupt blob, bad length).
    #[error("result line: {0}")]
    Protocol(String),
    /// An expected result is absent from the output.
    #[error("no result {0:?} in the VM output")]
    MissingResult(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> VmError + '_ {
    move |source| VmError::Io {
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------
// Kernel and modules

/// The cached kernel: its image and module tree.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// `boot/vmlinuz-<version>`.
    pub vmlinuz: PathBuf,
    /// `boot/vmlinux-<version>`, the ELF that `.ci/fetch-kernel` extracts
    /// from the bzImage: qemu boots it through its PVH entry point, which
    /// spares the ~5 s the bzImage spends decompressing itself under TCG.
    pub vmlinux: Option<PathBuf>,
    /// `<version>`, e.g. `6.1.0-56-amd64`.
    pub version: String,
    /// `lib/modules/<version>`.
    pub modules_dir: PathBuf,
}

/// A kernel module resolved to its file, with what modinfo says it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module name (`-` written as `_`, like the kernel does).
    pub name: String,
    /// Its `.ko` file on the host.
    pub path: PathBuf,
}

/// The dependency strings of a module's `.modinfo` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// `depends=`: modules that must be loaded first (symbol users).
    pub depends: Vec<String>,
    /// `softdep=pre:` names (module names or aliases) to load first, e.g.
    /// libcrc32c's `crc32c` which the crypto API would otherwise modprobe.
    pub softdep_pre: Vec<String>,
    /// `alias=` strings.
    pub aliases: Vec<String>,
}

/// The kernel spells module names with `_`; file names may use `-`.
fn module_name(s: &str) -> String {
    s.replace('-', "_")
}

/// Parses the NUL-separated `key=value` strings that a `.ko` carries in its
/// `.modinfo` section (what `strings FILE.ko | grep ^depends=` shows). Only
/// strings at a NUL boundary count, so text inside code is not mistaken.
pub fn parse_modinfo(bytes: &[u8]) -> ModInfo {
    let mut info = ModInfo::default();
    for s in bytes.split(|b| *b == 0) {
        let Ok(s) = std::str::from_utf8(s) else {
            continue;
        };
        if let Some(v) = s.strip_prefix("depends=") {
            info.depends
                .extend(v.split(',').filter(|d| !d.is_empty()).map(module_name));
        } else if let Some(v) = s.strip_prefix("softdep=") {
            // "pre: a b post: c" (modprobe.d(5) softdep syntax).
            let mut pre = false;
            for word in v.split_whitespace() {
                match word {
                    "pre:" => pre = true,
                    "post:" => pre = false,
                    w if pre => info.softdep_pre.push(w.to_string()),
                    _ => {}
                }
            }
        } else if let Some(v) = s.strip_prefix("alias=") {
            info.aliases.push(v.to_string());
        }
    }
    info
}

impl Kernel {
    /// The kernel unpacked by `.ci/fetch-kernel` under `target/vm-kernel`.
    pub fn cached() -> Result<Kernel, VmError> {
        Kernel::at(&kernel_dir().map_err(VmError::Kernel)?)
    }

    /// The kernel of an unpacked `linux-image-*` package at `root`.
    pub fn at(root: &Path) -> Result<Kernel, VmError> {
        let boot = root.join("boot");
        let mut found = None;
        for e in std::fs::read_dir(&boot).map_err(io_err(&boot))? {
            let e = e.map_err(io_err(&boot))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(v) = name.strip_prefix("vmlinuz-") {
                found = Some((e.path(), v.to_string()));
            }
        }
        let (vmlinuz, version) =
            found.ok_or_else(|| VmError::Kernel(format!("no vmlinuz-* in {}", boot.display())))?;
        let vmlinux = Some(boot.join(format!("vmlinux-{version}"))).filter(|p| p.is_file());
        let modules_dir = root.join("lib/modules").join(&version);
        if !modules_dir.join("kernel").is_dir() {
            return Err(VmError::Kernel(format!(
                "{} has no kernel/ module tree",
                modules_dir.display()
            )));
        }
        Ok(Kernel {
            vmlinuz,
            vmlinux,
            version,
            modules_dir,
        })
    }

    /// The image qemu boots: the extracted vmlinux when there is one.
    pub fn boot_image(&self) -> &Path {
        self.vmlinux.as_deref().unwrap_or(&self.vmlinuz)
    }

    /// Every `.ko` under the module tree, by module name.
    pub fn module_index(&self) -> Result<HashMap<String, PathBuf>, VmError> {
        let mut index = HashMap::new();
        let mut stack = vec![self.modules_dir.join("kernel")];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
                let e = e.map_err(io_err(&dir))?;
                let p = e.path();
                let ft = e.file_type().map_err(io_err(&p))?;
                if ft.is_dir() {
                    stack.push(p);
                } else if let Some(stem) = e.file_name().to_string_lossy().strip_suffix(".ko") {
                    index.insert(module_name(stem), p);
                }
            }
        }
        Ok(index)
    }

    /// `required` and the `optional` modules that exist, with all their
    /// dependencies, in an order `insmod` can load them: each module after
    /// its `softdep=pre:` and `depends=` modules. A missing required module
    /// or hard dependency is an error; an unresolvable softdep is skipped
    /// (it is soft: modprobe would carry on too).
    pub fn resolve_modules(
        &self,
        required: &[&str],
        optional: &[&str],
    ) -> Result<Vec<Module>, VmError> {
        let index = self.module_index()?;
        let mut r = Resolver {
            kernel: self,
            index: &index,
            done: BTreeSet::new(),
            visiting: BTreeSet::new(),
            order: Vec::new(),
        };
        for m in required {
            r.visit(&module_name(m), "the VM lab")?;
        }
        for m in optional {
            let m = module_name(m);
            if index.contains_key(&m) {
                r.visit(&m, "the VM lab")?;
            }
        }
        Ok(r.order)
    }

    /// The module providing `alias` (a crypto algorithm name such as
    /// `crc32c`, as softdeps use). Crypto modules live under `kernel/crypto`
    /// and `kernel/arch/*/crypto`; a `*_generic` implementation is preferred
    /// because it runs on any emulated CPU.
    fn module_for_alias(&self, alias: &str) -> Result<Option<String>, VmError> {
        let kernel = self.modules_dir.join("kernel");
        let mut dirs = vec![kernel.join("crypto")];
        if let Ok(arches) = std::fs::read_dir(kernel.join("arch")) {
            dirs.extend(
                arches
                    .filter_map(Result::ok)
                    .map(|e| e.path().join("crypto")),
            );
        }
        let mut hits = Vec::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                let p = e.path();
                let Some(stem) = e
                    .file_name()
                    .to_string_lossy()
                    .strip_suffix(".ko")
                    .map(module_name)
                else {
                    continue;
                };
                let bytes = std::fs::read(&p).map_err(io_err(&p))?;
                if parse_modinfo(&bytes).aliases.iter().any(|a| a == alias) {
                    hits.push(stem);
                }
            }
        }
        hits.sort_by_key(|n| (!n.ends_with("_generic"), n.clone()));
        Ok(hits.into_iter().next())
    }
}

struct Resolver<'a> {
    kernel: &'a Kernel,
    index: &'a HashMap<String, PathBuf>,
    done: BTreeSet<String>,
    visiting: BTreeSet<String>,
    order: Vec<Module>,
}

impl Resolver<'_> {
    fn visit(&mut self, name: &str, needed_by: &str) -> Result<(), VmError> {
        if self.done.contains(name) || self.visiting.contains(name) {
            // A cycle cannot load anyway; the kernel rejects it at build time.
            return Ok(());
        }
        let path = self
            .index
            .get(name)
            .ok_or_else(|| VmError::ModuleMissing {
                module: name.to_string(),
                needed_by: needed_by.to_string(),
            })?
            .clone();
        self.visiting.insert(name.to_string());
        let info = parse_modinfo(&std::fs::read(&path).map_err(io_err(&path))?);
        for soft in &info.softdep_pre {
            let soft = if self.index.contains_key(&module_name(soft)) {
                Some(module_name(soft))
            } else {
                self.kernel.module_for_alias(soft)?
            };
            if let Some(soft) = soft {
                self.visit(&soft, name)?;
            }
        }
        for dep in &info.depends {
            self.visit(dep, name)?;
        }
        self.visiting.remove(name);
        self.done.insert(name.to_string());
        self.order.push(Module {
            name: name.to_string(),
            path,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// cpio (newc)

/// One entry of a cpio archive being written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpioEntry {
    /// Path inside the archive, without a leading `/`.
    pub name: String,
    /// `st_mode`: file type and permissions.
    pub mode: u32,
    /// File content, or a symlink's target.
    pub data: Vec<u8>,
    /// Device number (major, minor) of a character or block device.
    pub rdev: (u32, u32),
}

/// File type bits of `st_mode` (inode(7)).
pub const S_IFDIR: u32 = 0o040000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120000;
/// Character device.
pub const S_IFCHR: u32 = 0o020000;
const S_IFMT: u32 = 0o170000;

const NEWC_MAGIC: &[u8; 6] = b"070701";
const NEWC_TRAILER: &str = "TRAILER!!!";

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Writes a cpio archive in the "newc" format the kernel's initramfs
/// unpacker reads (Documentation/driver-api/early-userspace/buffer-format.rst):
/// a 110-byte ASCII header of 13 eight-digit hex fields, the NUL-terminated
/// name, data, each padded to 4 bytes; ends with `TRAILER!!!`.
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
}

impl<W: Write> CpioWriter<W> {
    /// A writer appending to `out`.
    pub fn new(out: W) -> Self {
        CpioWriter { out, next_ino: 1 }
    }

    /// Appends one entry. mtime, uid and gid are 0 so that equal inputs give
    /// equal archives.
    pub fn entry(&mut self, e: &CpioEntry) -> std::io::Result<()> {
        let name = e.name.trim_start_matches('/');
        let namesize = name.len() + 1;
        let nlink = if e.mode & S_IFMT == S_IFDIR { 2 } else { 1 };
        let ino = self.next_ino;
        self.next_ino += 1;
        let filesize = u32::try_from(e.data.len()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "cpio entry over 4 GiB")
        })?;
        let header = format!(
            "070701{ino:08X}{:08X}{:08X}{:08X}{nlink:08X}{:08X}{filesize:08X}{:08X}{:08X}{:08X}{:08X}{namesize:08X}{:08X}",
            e.mode, 0, 0, 0, 0, 0, e.rdev.0, e.rdev.1, 0
        );
        self.out.write_all(header.as_bytes())?;
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(&[0])?;
        self.out.write_all(&[0; 3][..pad4(110 + namesize)])?;
        self.out.write_all(&e.data)?;
        self.out.write_all(&[0; 3][..pad4(e.data.len())])?;
        Ok(())
    }

    /// Writes the trailer and returns the output.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.entry(&CpioEntry {
            name: NEWC_TRAILER.into(),
            mode: 0,
            data: Vec::new(),
            rdev: (0, 0),
        })?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads back every entry of one or more concatenated newc archives (the
/// trailers are dropped), e.g. to list what an initramfs holds.
pub fn cpio_entries(mut bytes: &[u8]) -> Result<Vec<CpioEntry>, VmError> {
    let mut entries = Vec::new();
    loop {
        // The kernel skips zero padding between archives; so do we.
        while let [0, rest @ ..] = bytes {
            bytes = rest;
        }
        if bytes.is_empty() {
            return Ok(entries);
        }
        if bytes.len() < 110 || &bytes[..6] != NEWC_MAGIC {
            return Err(VmError::Cpio("bad newc header".into()));
        }
        let field = |i: usize| -> Result<u32, VmError> {
            let s = std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i])
                .map_err(|_| VmError::Cpio("non-ASCII header".into()))?;
            u32::from_str_radix(s, 16).map_err(|_| VmError::Cpio(format!("bad hex field {s:?}")))
        };
        let mode = field(1)?;
        let filesize = field(6)? as usize;
        let rdev = (field(9)?, field(10)?);
        let namesize = field(11)? as usize;
        let name_end = 110 + namesize;
        let data_start = name_end + pad4(name_end);
        let data_end = data_start + filesize;
        if namesize == 0 || bytes.len() < data_end {
            return Err(VmError::Cpio("truncated entry".into()));
        }
        let name = std::str::from_utf8(&bytes[110..name_end - 1])
            .map_err(|_| VmError::Cpio("non-UTF-8 name".into()))?
            .to_string();
        let data = bytes[data_start..data_end].to_vec();
        bytes = &bytes[(data_end + pad4(data_end)).min(bytes.len())..];
        if name != NEWC_TRAILER {
            entries.push(CpioEntry {
                name,
                mode,
                data,
                rdev,
            });
        }
    }
}

// ---------------------------------------------------------------------------
// Programs and their libraries

/// The first executable called `prog` on PATH, then in the sbin
/// directories (a non-root PATH on Debian lacks them; ip and ipvsadm live
/// there).
pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(prog))
        .find(|p| crate::on_path(&p.to_string_lossy()))
}

/// The libraries in `ldd` output: `name => /path (addr)` lines and bare
/// `/path (addr)` lines (the program interpreter); vdso has no path.
pub fn parse_ldd(output: &str) -> Vec<PathBuf> {
    let mut libs = Vec::new();
    for line in output.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line,
        };
        let path = path.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        }
    }
    libs
}

/// The shared libraries `program` loads, by the paths the loader uses (the
/// image puts them at the same paths). Static programs have none.
pub fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>, VmError> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|e| VmError::Ldd {
            program: program.to_path_buf(),
            message: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stdout.contains("not a dynamic executable")
            || stderr.contains("not a dynamic executable")
        {
            return Ok(Vec::new());
        }
        return Err(VmError::Ldd {
            program: program.to_path_buf(),
            message: format!("{}{}", stdout.trim(), stderr.trim()),
        });
    }
    if stdout.contains("not found") {
        return Err(VmError::Ldd {
            program: program.to_path_buf(),
            message: stdout.trim().to_string(),
        });
    }
    Ok(parse_ldd(&stdout))
}

// ---------------------------------------------------------------------------
// Initramfs

/// A file of the image: content from the host or given bytes.
#[derive(Debug, Clone)]
enum Source {
    Host(PathBuf),
    /// A host program copied without its debug sections (see [`stripped`]).
    Stripped(PathBuf),
    Bytes(Vec<u8>),
}

/// `program` without debug sections when binutils' `strip` is there: our
/// debug builds carry tens of MiB of DWARF that would only slow the guest's
/// initramfs unpacking and fill its RAM. The original otherwise.
fn stripped(program: &Path) -> Result<Vec<u8>, VmError> {
    if crate::on_path("strip") {
        let dir = cache_dir();
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_err(&dir))?;
        let ok = Command::new("strip")
            .arg("--strip-debug")
            .arg("-o")
            .arg(tmp.path())
            .arg(program)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return std::fs::read(tmp.path()).map_err(io_err(tmp.path()));
        }
    }
    std::fs::read(program).map_err(io_err(program))
}

/// One file of an image: guest path, content, `st_mode`.
type ImageEntry = (String, Source, u32);

/// Builds the base initramfs of a test group: busybox, `ip`, `ipvsadm`, the
/// modules, the prologue and helpers, plus what the test adds.
#[derive(Debug, Clone)]
pub struct InitramfsBuilder {
    kernel: Kernel,
    modules: Vec<String>,
    optional_modules: Vec<String>,
    programs: Vec<(PathBuf, String)>,
    files: Vec<(String, Source, u32)>,
}

/// A built base image, cached on disk, ready to boot scenarios.
#[derive(Debug, Clone)]
pub struct Initramfs {
    /// The cpio archive.
    pub path: PathBuf,
    /// The kernel it was built for.
    pub kernel: Kernel,
    /// The modules `/init` loads, in order.
    pub modules: Vec<String>,
}

impl InitramfsBuilder {
    /// The standard image for `kernel`: [`BASE_MODULES`], the
    /// [`OPTIONAL_MODULES`] present, busybox (static), `ip` and `ipvsadm`.
    pub fn new(kernel: Kernel) -> Self {
        InitramfsBuilder {
            kernel,
            modules: BASE_MODULES.iter().map(|s| s.to_string()).collect(),
            optional_modules: OPTIONAL_MODULES.iter().map(|s| s.to_string()).collect(),
            programs: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Also load `module` (and its dependencies); an error at build time if
    /// the kernel lacks it.
    pub fn module(mut self, module: &str) -> Self {
        self.modules.push(module.to_string());
        self
    }

    /// Also load `module` when the kernel has it (e.g. `ip_vs_ftp`).
    pub fn optional_module(mut self, module: &str) -> Self {
        self.optional_modules.push(module.to_string());
        self
    }

    /// Copies the host program `host` (an absolute path) to `guest` with the
    /// libraries `ldd` lists, e.g. our `keepalived-rs` to
    /// `/usr/sbin/keepalived-rs`. Debug sections are stripped from the copy.
    pub fn program_as(mut self, host: impl Into<PathBuf>, guest: &str) -> Self {
        self.programs.push((host.into(), guest.to_string()));
        self
    }

    /// Copies program `name` from the host's PATH to the same path, with its
    /// libraries (e.g. "keepalived").
    pub fn program(self, name: &str) -> Result<Self, VmError> {
        let host = which(name).ok_or_else(|| VmError::ProgramMissing(name.to_string()))?;
        let guest = host.to_string_lossy().into_owned();
        Ok(self.program_as(host, &guest))
    }

    /// Adds a file with the given content and permissions (e.g. 0o644).
    pub fn file(mut self, guest: &str, content: impl Into<Vec<u8>>, perm: u32) -> Self {
        self.files
            .push((guest.to_string(), Source::Bytes(content.into()), perm));
        self
    }

    /// Adds a copy of the host file `host` at `guest`.
    pub fn host_file(mut self, host: impl Into<PathBuf>, guest: &str, perm: u32) -> Self {
        self.files
            .push((guest.to_string(), Source::Host(host.into()), perm));
        self
    }

    /// Every entry of the image: (guest path, source, mode), directories
    /// first, plus the module order. Programs pull in their libraries.
    fn plan(&self) -> Result<(Vec<ImageEntry>, Vec<Module>), VmError> {
        let modules = self.kernel.resolve_modules(
            &self.modules.iter().map(String::as_str).collect::<Vec<_>>(),
            &self
                .optional_modules
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )?;
        let mut files: BTreeMap<String, (Source, u32)> = BTreeMap::new();
        // busybox must be static: it runs before anything else is set up,
        // and its applets (sh, insmod, mount, nc, httpd) do the rest.
        let busybox = which("busybox").ok_or_else(|| VmError::ProgramMissing("busybox".into()))?;
        if !shared_libraries(&busybox)?.is_empty() {
            return Err(VmError::Ldd {
                program: busybox,
                message: "busybox is not static (install busybox-static)".into(),
            });
        }
        files.insert("/bin/busybox".into(), (Source::Host(busybox), 0o755));
        let mut programs = Vec::new();
        for p in ["ip", "ipvsadm"] {
            let host = which(p).ok_or_else(|| VmError::ProgramMissing(p.to_string()))?;
            let guest = host.to_string_lossy().into_owned();
            if p == "ip" {
                files.insert(
                    "/etc/kr/env".into(),
                    (Source::Bytes(format!("KR_IP={guest}\n").into()), 0o644),
                );
            }
            programs.push((host, guest));
        }
        for (host, guest) in &programs {
            for lib in shared_libraries(host)? {
                let g = lib.to_string_lossy().into_owned();
                files.insert(g, (Source::Host(lib), 0o755));
            }
            files.insert(guest.clone(), (Source::Host(host.clone()), 0o755));
        }
        for (host, guest) in &self.programs {
            for lib in shared_libraries(host)? {
                let g = lib.to_string_lossy().into_owned();
                files.insert(g, (Source::Host(lib), 0o755));
            }
            files.insert(guest.clone(), (Source::Stripped(host.clone()), 0o755));
        }
        for m in &modules {
            let g = format!(
                "/lib/modules/{}/{}",
                self.kernel.version,
                m.path
                    .strip_prefix(&self.kernel.modules_dir)
                    .unwrap_or(&m.path)
                    .display()
            );
            files.insert(g, (Source::Host(m.path.clone()), 0o644));
        }
        let order: String = modules
            .iter()
            .map(|m| {
                format!(
                    "{} /lib/modules/{}/{}\n",
                    m.name,
                    self.kernel.version,
                    m.path
                        .strip_prefix(&self.kernel.modules_dir)
                        .unwrap_or(&m.path)
                        .display()
                )
            })
            .collect();
        files.insert(
            "/etc/kr/modules".into(),
            (Source::Bytes(order.into()), 0o644),
        );
        files.insert("/init".into(), (Source::Bytes(INIT_SH.into()), 0o755));
        files.insert(
            "/lib/kr/lib.sh".into(),
            (Source::Bytes(LIB_SH.into()), 0o644),
        );
        files.insert(
            "/etc/passwd".into(),
            (
                Source::Bytes(b"root:x:0:0:root:/root:/bin/sh\n".to_vec()),
                0o644,
            ),
        );
        files.insert(
            "/etc/group".into(),
            (Source::Bytes(b"root:x:0:\n".to_vec()), 0o644),
        );
        for (g, src, perm) in &self.files {
            files.insert(g.clone(), (src.clone(), *perm));
        }
        let mut dirs = BTreeSet::new();
        for g in files.keys() {
            let mut p = Path::new(g).parent();
            while let Some(d) = p {
                if d != Path::new("/") && !d.as_os_str().is_empty() {
                    dirs.insert(d.to_string_lossy().into_owned());
                }
                p = d.parent();
            }
        }
        for d in ["/dev", "/proc", "/sys", "/tmp", "/run", "/root", "/bb"] {
            dirs.insert(d.to_string());
        }
        let mut plan: Vec<ImageEntry> = dirs
            .into_iter()
            .map(|d| (d, Source::Bytes(Vec::new()), S_IFDIR | 0o755))
            .collect();
        plan.extend(
            files
                .into_iter()
                .map(|(g, (src, perm))| (g, src, S_IFREG | perm)),
        );
        Ok((plan, modules))
    }

    /// Builds the image, or reuses the cached one built from the same inputs
    /// (paths, sizes and mtimes of host files, given bytes, module order).
    pub fn build(&self) -> Result<Initramfs, VmError> {
        let (plan, modules) = self.plan()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (g, src, mode) in &plan {
            (g, mode, matches!(src, Source::Stripped(_))).hash(&mut h);
            match src {
                Source::Bytes(b) => b.hash(&mut h),
                Source::Host(p) | Source::Stripped(p) => {
                    let md = std::fs::metadata(p).map_err(io_err(p))?;
                    (p, md.len(), md.modified().ok()).hash(&mut h);
                }
            }
        }
        let dir = cache_dir();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let path = dir.join(format!("initramfs-{:016x}.cpio", h.finish()));
        let module_names = modules.iter().map(|m| m.name.clone()).collect();
        if path.is_file() {
            touch(&path);
            return Ok(Initramfs {
                path,
                kernel: self.kernel.clone(),
                modules: module_names,
            });
        }
        prune_cache(&dir, CACHE_UNUSED_FOR);
        // Written under a unique name and renamed: parallel tests building
        // the same image never read a half-written one.
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(io_err(&dir))?;
        let mut w = CpioWriter::new(std::io::BufWriter::new(tmp.as_file()));
        let werr = |e| VmError::Io {
            path: tmp.path().to_path_buf(),
            source: e,
        };
        for (g, src, mode) in plan {
            let data = match src {
                Source::Bytes(b) => b,
                Source::Host(p) => std::fs::read(&p).map_err(io_err(&p))?,
                Source::Stripped(p) => stripped(&p)?,
            };
            w.entry(&CpioEntry {
                name: g,
                mode,
                data,
                rdev: (0, 0),
            })
            .map_err(werr)?;
        }
        // The kernel opens /dev/console for init before /init mounts
        // devtmpfs; without the node init has no stdout.
        w.entry(&CpioEntry {
            name: "dev/console".into(),
            mode: S_IFCHR | 0o600,
            data: Vec::new(),
            rdev: (5, 1),
        })
        .map_err(werr)?;
        w.entry(&CpioEntry {
            name: "bin/sh".into(),
            mode: S_IFLNK | 0o777,
            data: b"busybox".to_vec(),
            rdev: (0, 0),
        })
        .map_err(werr)?;
        w.finish().map_err(werr)?;
        tmp.persist(&path).map_err(|e| VmError::Io {
            path: path.clone(),
            source: e.error,
        })?;
        Ok(Initramfs {
            path,
            kernel: self.kernel.clone(),
            modules: module_names,
        })
    }
}

/// How long an image may go unused before [`prune_cache`] removes it; every
/// build and run marks its image used.
const CACHE_UNUSED_FOR: Duration = Duration::from_secs(600);

/// Marks a cached image used now.
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Removes cached images unused for `age`: every change of an input (a
/// rebuilt keepalived-rs binary) makes a new one of tens of MiB. Also
/// removes temporary files (`.tmp*`) that a killed test process left.
fn prune_cache(dir: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|el| el > age);
        let ours =
            (name.starts_with("initramfs-") && name.ends_with(".cpio")) || name.starts_with(".tmp");
        if ours && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

// ---------------------------------------------------------------------------
// Scenarios and runs

/// What one VM boot runs: a script (sourced after `/lib/kr/lib.sh`) and the
/// files it reads (configs), with the run's limits.
#[derive(Debug, Clone)]
pub struct Scenario {
    script: String,
    files: Vec<(String, Vec<u8>, u32)>,
    env: Vec<(String, String)>,
    /// Wall-clock deadline for the whole boot; the VM is killed after it.
    pub timeout: Duration,
    /// Guest memory in MiB.
    pub memory_mb: u32,
    /// Guest CPUs (TCG runs one host thread per vCPU).
    pub cpus: u32,
}

impl Scenario {
    /// A scenario running `script`. The default deadline (180 s) leaves room
    /// for a loaded 2-core machine; a boot takes about 6 s idle.
    pub fn new(script: impl Into<String>) -> Self {
        Scenario {
            script: script.into(),
            files: Vec::new(),
            env: Vec::new(),
            timeout: Duration::from_secs(180),
            memory_mb: 512,
            cpus: 1,
        }
    }

    /// The script `fixtures/vm/<name>`.
    pub fn fixture(name: &str) -> Result<Self, VmError> {
        let p = fixtures_dir().join(name);
        Ok(Scenario::new(
            std::fs::read_to_string(&p).map_err(io_err(&p))?,
        ))
    }

    /// Passes a file into the guest at `guest` (e.g. a keepalived.conf).
    pub fn file(mut self, guest: &str, content: impl Into<Vec<u8>>, perm: u32) -> Self {
        self.files.push((guest.to_string(), content.into(), perm));
        self
    }

    /// Sets a shell variable for the script (exported; e.g. the director
    /// command of `lvs-dr-director.sh`). `key` must be a shell name.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Sets the deadline.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Sets the number of guest CPUs.
    pub fn cpus(mut self, n: u32) -> Self {
        self.cpus = n;
        self
    }

    /// Sets guest memory in MiB.
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// `/etc/kr/scenario.env`, sourced by lib.sh: `export K='v'` lines.
    fn env_file(&self) -> std::io::Result<Vec<u8>> {
        let mut out = String::new();
        for (k, v) in &self.env {
            let shell_name = k
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !shell_name {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("scenario variable {k:?} is not a shell name"),
                ));
            }
            // Single quotes keep everything literal; a quote is closed,
            // escaped and reopened.
            out.push_str(&format!("export {k}='{}'\n", v.replace('\'', "'\\''")));
        }
        Ok(out.into_bytes())
    }

    /// The per-run cpio appended to the base image.
    fn overlay(&self) -> std::io::Result<Vec<u8>> {
        let mut w = CpioWriter::new(Vec::new());
        let mut files = self.files.clone();
        files.push(("/etc/kr/scenario.env".into(), self.env_file()?, 0o644));
        let mut dirs = BTreeSet::new();
        for (g, _, _) in &files {
            let mut p = Path::new(g).parent();
            while let Some(d) = p {
                if d != Path::new("/") && !d.as_os_str().is_empty() {
                    dirs.insert(d.to_string_lossy().into_owned());
                }
                p = d.parent();
            }
        }
        for d in dirs {
            w.entry(&CpioEntry {
                name: d,
                mode: S_IFDIR | 0o755,
                data: Vec::new(),
                rdev: (0, 0),
            })?;
        }
        w.entry(&CpioEntry {
            name: "scenario.sh".into(),
            mode: S_IFREG | 0o755,
            data: self.script.clone().into_bytes(),
            rdev: (0, 0),
        })?;
        for (g, data, perm) in &files {
            w.entry(&CpioEntry {
                name: g.clone(),
                mode: S_IFREG | perm,
                data: data.clone(),
                rdev: (0, 0),
            })?;
        }
        w.finish()
    }
}

/// What a scenario reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmOutput {
    /// `@@KR val KEY VALUE` lines, by key, in order of arrival.
    pub values: BTreeMap<String, Vec<String>>,
    /// `@@KR hex KEY ...` blobs, decoded and length-checked.
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// `@@KR error ...` messages.
    pub errors: Vec<String>,
    /// The scenario's exit status, if reported.
    pub exit: Option<i32>,
    /// The whole console output (for diagnostics).
    pub console: String,
}

impl VmOutput {
    /// Parses console output. Result lines may be preceded by other output
    /// on the same line; everything without the prefix is console noise.
    pub fn parse(console: &str) -> Result<VmOutput, VmError> {
        let mut out = VmOutput {
            console: console.to_string(),
            ..VmOutput::default()
        };
        let mut lengths: BTreeMap<String, usize> = BTreeMap::new();
        for line in console.lines() {
            let Some(at) = line.find(RESULT_PREFIX) else {
                continue;
            };
            let rest = line[at + RESULT_PREFIX.len()..].trim_end_matches('\r');
            let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            match kind {
                "val" => {
                    let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
                    out.values
                        .entry(k.to_string())
                        .or_default()
                        .push(v.to_string());
                }
                "hex" => {
                    let mut words = rest.split_whitespace();
                    let Some(k) = words.next() else {
                        return Err(VmError::Protocol(format!("hex without key: {line:?}")));
                    };
                    let blob = out.blobs.entry(k.to_string()).or_default();
                    for w in words {
                        let b = u8::from_str_radix(w, 16)
                            .map_err(|_| VmError::Protocol(format!("bad hex {w:?} in {line:?}")))?;
                        blob.push(b);
                    }
                }
                "hexlen" => {
                    let (k, n) = rest.split_once(' ').unwrap_or((rest, ""));
                    let n = n
                        .trim()
                        .parse()
                        .map_err(|_| VmError::Protocol(format!("bad length in {line:?}")))?;
                    lengths.insert(k.to_string(), n);
                }
                "error" => out.errors.push(rest.to_string()),
                "exit" => {
                    out.exit =
                        Some(rest.trim().parse().map_err(|_| {
                            VmError::Protocol(format!("bad exit status in {line:?}"))
                        })?)
                }
                _ => return Err(VmError::Protocol(format!("unknown result line {line:?}"))),
            }
        }
        for (k, n) in &lengths {
            let got = out.blobs.get(k).map_or(0, Vec::len);
            if got != *n {
                return Err(VmError::Protocol(format!(
                    "blob {k}: {got} bytes arrived, {n} sent"
                )));
            }
        }
        for k in out.blobs.keys() {
            if !lengths.contains_key(k) {
                return Err(VmError::Protocol(format!("blob {k} has no length line")));
            }
        }
        Ok(out)
    }

    /// The last value reported for `key`.
    pub fn value(&self, key: &str) -> Result<&str, VmError> {
        self.values
            .get(key)
            .and_then(|v| v.last())
            .map(String::as_str)
            .ok_or_else(|| VmError::MissingResult(key.to_string()))
    }

    /// Every value reported for `key`, in order (empty if none).
    pub fn values(&self, key: &str) -> &[String] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }

    /// Blob `key` as text (lossy UTF-8).
    pub fn text(&self, key: &str) -> Result<String, VmError> {
        self.blobs
            .get(key)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .ok_or_else(|| VmError::MissingResult(key.to_string()))
    }

    /// The last `n` console lines that are not blob chunks.
    pub fn console_tail(&self, n: usize) -> String {
        console_tail(&self.console, n)
    }
}

fn console_tail(console: &str, n: usize) -> String {
    let lines: Vec<&str> = console
        .lines()
        .filter(|l| !l.contains("@@KR hex "))
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One of this process's concurrent-VM slots (as many as host CPUs).
struct VmSlot;

static VM_SLOTS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static VM_SLOT_FREED: std::sync::Condvar = std::sync::Condvar::new();

impl VmSlot {
    fn acquire() -> VmSlot {
        let max = std::thread::available_parallelism().map_or(1, |n| n.get());
        // A poisoned lock only means another test panicked holding it; the
        // count itself is still right.
        let mut used = VM_SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        while *used >= max {
            used = VM_SLOT_FREED.wait(used).unwrap_or_else(|p| p.into_inner());
        }
        *used += 1;
        VmSlot
    }
}

impl Drop for VmSlot {
    fn drop(&mut self) {
        let mut used = VM_SLOTS.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(1);
        VM_SLOT_FREED.notify_one();
    }
}

/// Kills qemu when a run ends early (error, panic in the test).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Initramfs {
    /// Boots the VM with `scenario` and returns what it reported. An `Err`
    /// when qemu cannot start, the kernel panics, the deadline passes, no
    /// exit status arrives, the guest reports an error or the scenario exits
    /// non-zero.
    pub fn run(&self, scenario: &Scenario) -> Result<VmOutput, VmError> {
        // Each TCG guest keeps a host core busy; more guests than cores
        // only stretch every scenario's timing (and its bounded waits).
        let _slot = VmSlot::acquire();
        touch(&self.path);
        // Base image + overlay: the kernel unpacks concatenated archives in
        // order, so the overlay's files land on top of the base's.
        let dir = cache_dir();
        let mut initrd = tempfile::NamedTempFile::new_in(&dir).map_err(io_err(&dir))?;
        {
            let mut base = std::fs::File::open(&self.path).map_err(io_err(&self.path))?;
            std::io::copy(&mut base, initrd.as_file_mut()).map_err(io_err(initrd.path()))?;
            let overlay = scenario.overlay().map_err(io_err(initrd.path()))?;
            initrd
                .as_file_mut()
                .write_all(&overlay)
                .map_err(io_err(initrd.path()))?;
        }
        let mut cmd = Command::new("qemu-system-x86_64");
        // KVM hangs on the lab machines (docs/labs.md): software emulation.
        cmd.args(["-accel", "tcg", "-cpu", "max"])
            .args(["-m", &scenario.memory_mb.to_string()])
            .args(["-smp", &scenario.cpus.to_string()])
            .args(["-nographic", "-no-reboot", "-nic", "none"])
            .arg("-kernel")
            .arg(self.kernel.boot_image())
            .arg("-initrd")
            .arg(initrd.path())
            .args(["-append", "console=ttyS0 quiet panic=-1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = KillOnDrop(cmd.spawn().map_err(VmError::Spawn)?);
        let stdout = child.0.stdout.take();
        let stderr = child.0.stderr.take();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            if let Some(s) = stdout {
                for line in BufReader::new(s).split(b'\n') {
                    let Ok(line) = line else { break };
                    if tx
                        .send(String::from_utf8_lossy(&line).into_owned())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = String::new();
            if let Some(mut s) = stderr {
                let _ = s.read_to_string(&mut buf);
            }
            buf
        });
        let start = Instant::now();
        let deadline = start + scenario.timeout;
        let mut console = String::new();
        let mut outcome: Option<VmError> = None;
        loop {
            let now = Instant::now();
            if now >= deadline {
                outcome = Some(VmError::Timeout {
                    after: scenario.timeout,
                    console_tail: console_tail(&console, 40),
                });
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(line) => {
                    console.push_str(&line);
                    console.push('\n');
                    if line.contains("Kernel panic") && !line.contains(RESULT_PREFIX) {
                        // Let the dump that follows finish ("---[ end Kernel
                        // panic"), within 2 s: it says where it happened.
                        let until = Instant::now() + Duration::from_secs(2);
                        while let Ok(l) =
                            rx.recv_timeout(until.saturating_duration_since(Instant::now()))
                        {
                            console.push_str(&l);
                            console.push('\n');
                            if l.contains("end Kernel panic") {
                                break;
                            }
                        }
                        outcome = Some(VmError::Panic {
                            message: line.trim().to_string(),
                            console_tail: console_tail(&console, 40),
                        });
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        drop(child);
        let _ = reader.join();
        let qemu_stderr = err_reader.join().unwrap_or_default();
        if let Some(e) = outcome {
            return Err(e);
        }
        VmOutput::parse(&console)?.verdict(&qemu_stderr)
    }
}

impl VmOutput {
    /// Whether a finished run succeeded: no `@@KR error`, an exit status
    /// reported, and that status 0. `qemu_stderr` goes into the diagnostics.
    pub fn verdict(self, qemu_stderr: &str) -> Result<VmOutput, VmError> {
        let tail = || {
            let mut t = self.console_tail(40);
            if !qemu_stderr.trim().is_empty() {
                t.push_str("\nqemu: ");
                t.push_str(qemu_stderr.trim());
            }
            t
        };
        if !self.errors.is_empty() {
            return Err(VmError::Guest {
                errors: self.errors.clone(),
                console_tail: tail(),
            });
        }
        match self.exit {
            None => Err(VmError::NoResult {
                console_tail: tail(),
            }),
            Some(0) => Ok(self),
            Some(status) => Err(VmError::ScenarioFailed {
                status,
                console_tail: tail(),
            }),
        }
    }
}

// ---------------------------------------------------------------------------
// ipvsadm output

/// One virtual service of `ipvsadm -Ln`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsadmService {
    /// `TCP`, `UDP`, `SCTP` or `FWM`.
    pub protocol: String,
    /// `addr:port` (`[v6]:port`), or the firewall mark for `FWM`.
    pub address: String,
    /// Scheduler name, e.g. `rr`.
    pub scheduler: String,
    /// The rest of the line, e.g. `persistent 50`, `ops`.
    pub flags: Vec<String>,
    /// Its real servers, in listed order.
    pub destinations: Vec<IpvsadmDest>,
}

/// One `->` line of `ipvsadm -Ln`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsadmDest {
    /// `addr:port`.
    pub address: String,
    /// `Route` (DR), `Masq` (NAT), `Tunnel` or `Local`.
    pub forward: String,
    /// Weight.
    pub weight: i64,
    /// ActiveConn.
    pub active: u64,
    /// InActConn.
    pub inactive: u64,
}

/// The configuration in an `ipvsadm -Ln` listing without its counters, in a
/// canonical order: what two directors (keepalived and keepalived-rs) must
/// agree on, whatever traffic each has seen and whatever order each added
/// things in.
pub fn ipvs_identity(services: &[IpvsadmService]) -> Vec<IpvsadmService> {
    let mut out: Vec<IpvsadmService> = services
        .iter()
        .map(|s| {
            let mut s = s.clone();
            for d in &mut s.destinations {
                d.active = 0;
                d.inactive = 0;
            }
            s.destinations.sort_by(|a, b| a.address.cmp(&b.address));
            s
        })
        .collect();
    out.sort_by(|a, b| (&a.protocol, &a.address).cmp(&(&b.protocol, &b.address)));
    out
}

/// Parses `ipvsadm -Ln` output (ipvsadm 1.31): header lines, then one line
/// per service and an indented `->` line per destination.
pub fn parse_ipvsadm_ln(text: &str) -> Result<Vec<IpvsadmService>, VmError> {
    let bad = |l: &str| VmError::Protocol(format!("unexpected ipvsadm line {l:?}"));
    let mut services: Vec<IpvsadmService> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty()
            || t.starts_with("IP Virtual Server")
            || t.starts_with("Prot LocalAddress")
            || t.starts_with("-> RemoteAddress")
        {
            continue;
        }
        if let Some(d) = t.strip_prefix("->") {
            let w: Vec<&str> = d.split_whitespace().collect();
            let [address, forward, weight, active, inactive] = w[..] else {
                return Err(bad(line));
            };
            let num = |s: &str| s.parse::<u64>().map_err(|_| bad(line));
            let svc = services.last_mut().ok_or_else(|| bad(line))?;
            svc.destinations.push(IpvsadmDest {
                address: address.to_string(),
                forward: forward.to_string(),
                weight: weight.parse().map_err(|_| bad(line))?,
                active: num(active)?,
                inactive: num(inactive)?,
            });
        } else {
            let w: Vec<&str> = t.split_whitespace().collect();
            let [protocol, address, scheduler, flags @ ..] = &w[..] else {
                return Err(bad(line));
            };
            if !matches!(*protocol, "TCP" | "UDP" | "SCTP" | "FWM") {
                return Err(bad(line));
            }
            services.push(IpvsadmService {
                protocol: protocol.to_string(),
                address: address.to_string(),
                scheduler: scheduler.to_string(),
                flags: flags.iter().map(|s| s.to_string()).collect(),
                destinations: Vec::new(),
            });
        }
    }
    Ok(services)
}

// ---------------------------------------------------------------------------
// The LVS-DR director scenario

/// Where [`run_lvs_dr_director`] puts the director's config in the guest.
pub const DIRECTOR_CONF: &str = "/etc/keepalived/keepalived.conf";
/// Where it puts the config a reload switches to.
const DIRECTOR_RELOAD_CONF: &str = "/etc/keepalived/reload.conf";
/// Where it puts the backup director's config.
pub const BACKUP_CONF: &str = "/etc/keepalived/backup.conf";

/// What [`run_lvs_dr_director`] runs.
#[derive(Debug, Clone, Copy)]
pub struct DirectorSpec<'a> {
    /// The primary director's command line; it must read [`DIRECTOR_CONF`].
    pub command: &'a str,
    /// The content of [`DIRECTOR_CONF`].
    pub config: &'a [u8],
    /// A config to reload the primary onto (SIGHUP), if any.
    pub reload_config: Option<&'a [u8]>,
    /// A backup director: command line (reading [`BACKUP_CONF`], with pid
    /// files of its own) and config, if any.
    pub backup: Option<(&'a str, &'a [u8])>,
}

/// IPVS operations the kernel performed, by ip_vs.ko function, as counted
/// by the `kr_trace_ipvs_*` kprobes (`ip_vs_add_dest` without
/// `ip_vs_new_dest` is a destination recycled from the kernel's trash).
pub type IpvsOps = BTreeMap<String, u64>;

/// What `fixtures/vm/lvs-dr-director.sh` observed of a director daemon.
#[derive(Debug, Clone)]
pub struct DirectorRun {
    /// The VIP appeared on the director's eth0 (VRRP master) in time.
    pub vip: bool,
    /// Real servers in the director's IPVS table after the wait.
    pub dests: usize,
    /// The daemon was still running then.
    pub alive: bool,
    /// Which real server answered each of four client requests.
    pub http: Vec<String>,
    /// The director's `ipvsadm -Ln`, parsed.
    pub ipvs: Vec<IpvsadmService>,
    /// IPVS operations from the daemon's start up to then.
    pub ops_start: IpvsOps,
    /// After SIGHUP with the second config, when one was given.
    pub reload: Option<DirectorReload>,
    /// The backup director, when one was given.
    pub backup: Option<DirectorBackup>,
    /// SIGTERM stopped it (rather than SIGKILL after 10 s).
    pub stopped_by_term: bool,
    /// IPVS operations of the shutdown.
    pub ops_stop: IpvsOps,
    /// The VIP was still there after the stop.
    pub vip_after_stop: bool,
    /// The IPVS table after the stop.
    pub ipvs_after_stop: Vec<IpvsadmService>,
    /// The daemon's stdout and stderr.
    pub log: String,
    /// Everything the scenario reported.
    pub output: VmOutput,
}

/// The reload part of a [`DirectorRun`].
#[derive(Debug, Clone)]
pub struct DirectorReload {
    /// IPVS operations from SIGHUP until quiet for 1 s.
    pub ops: IpvsOps,
    /// The IPVS table then.
    pub ipvs: Vec<IpvsadmService>,
    /// The daemon survived the reload.
    pub alive: bool,
}

/// The backup part of a [`DirectorRun`].
#[derive(Debug, Clone)]
pub struct DirectorBackup {
    /// Real servers in its IPVS table once started (before the failover).
    pub dests: usize,
    /// It held the VIP while the primary ran (it must not).
    pub vip_before: bool,
    /// IPVS operations of its start.
    pub ops_start: IpvsOps,
    /// It took the VIP over after the primary's stop.
    pub vip: bool,
    /// Which real server answered each of four requests through it.
    pub http: Vec<String>,
    /// Its `ipvsadm -Ln` after the takeover.
    pub ipvs: Vec<IpvsadmService>,
    /// SIGTERM stopped it.
    pub stopped_by_term: bool,
    /// Its stdout and stderr.
    pub log: String,
}

impl DirectorRun {
    /// Reads a run's results out of the scenario's output.
    pub fn from_output(output: VmOutput) -> Result<DirectorRun, VmError> {
        let yes = |k: &str| output.value(k).map(|v| v == "yes");
        let ops = |prefix: &str| -> Result<IpvsOps, VmError> {
            let mut m = IpvsOps::new();
            for (k, v) in &output.values {
                if let Some(f) = k.strip_prefix(prefix) {
                    let last = v.last().map(String::as_str).unwrap_or("");
                    let n = last
                        .parse()
                        .map_err(|_| VmError::Protocol(format!("{k} = {last:?}")))?;
                    m.insert(f.to_string(), n);
                }
            }
            Ok(m)
        };
        let table = |k: &str| parse_ipvsadm_ln(&output.text(k)?);
        let dests = output.value("dr.dests")?;
        let reload = if output.blobs.contains_key("dr.ipvsadm-reloaded") {
            Some(DirectorReload {
                ops: ops("trace.reload.")?,
                ipvs: table("dr.ipvsadm-reloaded")?,
                alive: yes("dr.director-alive-reloaded")?,
            })
        } else {
            None
        };
        let backup = if output.values.contains_key("dr.backup-dests") {
            let n = output.value("dr.backup-dests")?;
            Some(DirectorBackup {
                dests: n
                    .parse()
                    .map_err(|_| VmError::Protocol(format!("dr.backup-dests = {n:?}")))?,
                vip_before: yes("dr.backup-vip-before")?,
                ops_start: ops("trace.backup-start.")?,
                vip: yes("dr.backup-vip")?,
                http: output.values("dr.http-backup").to_vec(),
                ipvs: table("dr.ipvsadm-backup")?,
                stopped_by_term: output.value("director2.stopped")? == "term",
                log: output.text("director2.log")?,
            })
        } else {
            None
        };
        Ok(DirectorRun {
            backup,
            vip: yes("dr.vip")?,
            dests: dests
                .parse()
                .map_err(|_| VmError::Protocol(format!("dr.dests = {dests:?}")))?,
            alive: yes("dr.director-alive")?,
            http: output.values("dr.http").to_vec(),
            ipvs: table("dr.ipvsadm")?,
            ops_start: ops("trace.start.")?,
            reload,
            stopped_by_term: output.value("director.stopped")? == "term",
            ops_stop: ops("trace.stop.")?,
            vip_after_stop: yes("dr.vip-after-stop")?,
            ipvs_after_stop: table("dr.ipvsadm-after-stop")?,
            log: output.text("director.log")?,
            output,
        })
    }
}

/// Runs the seed's LVS-DR scenario (`fixtures/vm/lvs-dr-director.sh`) with
/// `spec.command` as the director daemon inside the director namespace,
/// optionally reloading it (SIGHUP) and failing over to a backup. The image
/// must contain the daemons ([`InitramfsBuilder::program`] or
/// [`InitramfsBuilder::program_as`]). The same spec with keepalived and with
/// keepalived-rs gives two [`DirectorRun`]s to compare.
pub fn run_lvs_dr_director(
    image: &Initramfs,
    spec: &DirectorSpec<'_>,
) -> Result<DirectorRun, VmError> {
    let mut s = Scenario::fixture("lvs-dr-director.sh")?
        .file(DIRECTOR_CONF, spec.config, 0o644)
        .env("KR_DIRECTOR_CMD", spec.command)
        .env("KR_CONF", DIRECTOR_CONF);
    if let Some(r) = spec.reload_config {
        s = s
            .file(DIRECTOR_RELOAD_CONF, r, 0o644)
            .env("KR_RELOAD_CONF", DIRECTOR_RELOAD_CONF);
    }
    if let Some((command, config)) = spec.backup {
        s = s
            .file(BACKUP_CONF, config, 0o644)
            .env("KR_BACKUP_CMD", command);
    }
    DirectorRun::from_output(image.run(&s)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_strings_at_nul_boundaries() {
        let bytes = b"\x7fELF junk depends=fake\0license=GPL\0depends=nf_conntrack,libcrc32c,nf-defrag-ipv6\0softdep=pre: crc32c post: foo\0alias=crypto-crc32c\0alias=crc32c\0";
        let info = parse_modinfo(bytes);
        assert_eq!(
            info.depends,
            vec!["nf_conntrack", "libcrc32c", "nf_defrag_ipv6"]
        );
        assert_eq!(info.softdep_pre, vec!["crc32c"]);
        assert_eq!(info.aliases, vec!["crypto-crc32c", "crc32c"]);
        assert_eq!(parse_modinfo(b"\0depends=\0").depends, Vec::<String>::new());
    }

    #[test]
    fn prune_removes_only_old_images_and_temp_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let old = std::time::SystemTime::now() - Duration::from_secs(3600);
        for (name, age) in [
            ("initramfs-old.cpio", Some(old)),
            ("initramfs-new.cpio", None),
            (".tmpABC", Some(old)),
            ("unrelated.cpio", Some(old)),
        ] {
            let p = dir.path().join(name);
            let f = std::fs::File::create(&p).expect("create");
            if let Some(t) = age {
                f.set_modified(t).expect("set mtime");
            }
        }
        prune_cache(dir.path(), CACHE_UNUSED_FOR);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["initramfs-new.cpio", "unrelated.cpio"]);
    }

    /// ldd on this test binary (dynamically linked against glibc).
    #[test]
    fn libraries_of_a_real_program() {
        let exe = std::env::current_exe().expect("own path");
        let libs = shared_libraries(&exe).expect("ldd runs");
        assert!(
            libs.iter().any(|l| l.to_string_lossy().contains("libc.so")),
            "{libs:?}"
        );
        assert!(
            libs.iter().all(|l| l.is_absolute() && l.exists()),
            "{libs:?}"
        );
        assert!(shared_libraries(Path::new("/nonexistent/program")).is_err());
    }

    #[test]
    fn ldd_output() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibnl-3.so.200 => /lib/x86_64-linux-gnu/libnl-3.so.200 (0x00007f8a)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f8a)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f8a)\n";
        assert_eq!(
            parse_ldd(out),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libnl-3.so.200"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    fn sample_entries() -> Vec<CpioEntry> {
        vec![
            CpioEntry {
                name: "etc".into(),
                mode: S_IFDIR | 0o755,
                data: vec![],
                rdev: (0, 0),
            },
            CpioEntry {
                name: "etc/keepalived.conf".into(),
                mode: S_IFREG | 0o644,
                data: b"vrrp_instance VI_1 {\n}\n".to_vec(),
                rdev: (0, 0),
            },
            CpioEntry {
                name: "dev/console".into(),
                mode: S_IFCHR | 0o600,
                data: vec![],
                rdev: (5, 1),
            },
            CpioEntry {
                name: "bin/sh".into(),
                mode: S_IFLNK | 0o777,
                data: b"busybox".to_vec(),
                rdev: (0, 0),
            },
            CpioEntry {
                name: "odd".into(),
                mode: S_IFREG | 0o600,
                data: vec![0, 1, 2, 255, 7],
                rdev: (0, 0),
            },
        ]
    }

    fn write(entries: &[CpioEntry]) -> Vec<u8> {
        let mut w = CpioWriter::new(Vec::new());
        for e in entries {
            w.entry(e).expect("writing to a Vec");
        }
        w.finish().expect("writing to a Vec")
    }

    #[test]
    fn cpio_round_trip_and_alignment() {
        let entries = sample_entries();
        let bytes = write(&entries);
        assert_eq!(bytes.len() % 4, 0, "archives must stay 4-byte aligned");
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(cpio_entries(&bytes).expect("valid archive"), entries);
        // Concatenated archives (base image + scenario overlay), with zero
        // padding between them as the kernel tolerates.
        let mut two = bytes.clone();
        two.extend_from_slice(&[0; 8]);
        two.extend_from_slice(&write(&entries[1..2]));
        let all = cpio_entries(&two).expect("valid archives");
        assert_eq!(all.len(), entries.len() + 1);
        assert_eq!(all[entries.len()], entries[1]);
    }

    fn arb_entry() -> impl proptest::strategy::Strategy<Value = CpioEntry> {
        use proptest::prelude::*;
        (
            "[a-z0-9_.]{1,12}(/[a-z0-9_.]{1,12}){0,3}",
            prop_oneof![Just(S_IFREG), Just(S_IFDIR), Just(S_IFLNK), Just(S_IFCHR)],
            0u32..0o7777,
            proptest::collection::vec(any::<u8>(), 0..64),
            (0u32..300, 0u32..300),
        )
            .prop_map(|(name, kind, perm, data, rdev)| CpioEntry {
                name,
                mode: kind | perm,
                data,
                rdev,
            })
    }

    proptest::proptest! {
        /// Whatever we write reads back the same, concatenated or not.
        #[test]
        fn cpio_round_trips(entries in proptest::collection::vec(arb_entry(), 0..8)) {
            let bytes = write(&entries);
            proptest::prop_assert_eq!(bytes.len() % 4, 0);
            proptest::prop_assert_eq!(cpio_entries(&bytes).expect("own output"), entries);
        }

        /// The reader never panics on arbitrary (e.g. truncated) input.
        #[test]
        fn cpio_reader_total(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = cpio_entries(&bytes);
            let mut framed = b"070701".to_vec();
            framed.extend_from_slice(&bytes);
            let _ = cpio_entries(&framed);
        }

        /// The console parser never panics, whatever the guest prints.
        #[test]
        fn console_parser_total(lines in proptest::collection::vec("(@@KR )?[ -~]{0,40}", 0..20)) {
            let _ = VmOutput::parse(&lines.join("\n"));
        }
    }

    #[test]
    fn cpio_rejects_garbage() {
        assert!(cpio_entries(b"070707 old binary format").is_err());
        let bytes = write(&sample_entries());
        assert!(cpio_entries(&bytes[..bytes.len() / 2]).is_err());
    }

    /// GNU cpio (when installed) lists what our writer wrote: an oracle
    /// independent of our reader.
    #[test]
    fn cpio_listing_by_gnu_cpio() {
        if !crate::on_path("cpio") {
            eprintln!("cpio not installed: checked with our reader only");
            return;
        }
        let bytes = write(&sample_entries());
        let mut child = Command::new("cpio")
            .args(["-i", "-t", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cpio starts");
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(&bytes)
            .expect("cpio reads");
        let out = child.wait_with_output().expect("cpio finishes");
        assert!(out.status.success());
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(
            names,
            vec!["etc", "etc/keepalived.conf", "dev/console", "bin/sh", "odd"]
        );
    }

    #[test]
    fn scenario_overlay_has_script_and_files() {
        let s = Scenario::new("kr_val x 1\n").file("/etc/keepalived/keepalived.conf", "x", 0o600);
        let entries = cpio_entries(&s.overlay().expect("in memory")).expect("valid");
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "etc",
                "etc/keepalived",
                "etc/kr",
                "scenario.sh",
                "etc/keepalived/keepalived.conf",
                "etc/kr/scenario.env"
            ]
        );
        assert_eq!(entries[3].data, b"kr_val x 1\n");
        assert_eq!(entries[4].mode, S_IFREG | 0o600);
        assert_eq!(entries[5].data, b"");
    }

    /// The env file, run through a real shell, gives back the exact values.
    #[test]
    fn scenario_env_is_quoted_for_sh() {
        let tricky = "keepalived -f '/etc/a b.conf' \"$x\" `id` \\ ;";
        let s = Scenario::new("")
            .env("KR_DIRECTOR_CMD", tricky)
            .env("B", "");
        let env = String::from_utf8(s.env_file().expect("valid names")).expect("UTF-8");
        let out = Command::new("sh")
            .args([
                "-c",
                &format!("{env}printf '%s|%s' \"$KR_DIRECTOR_CMD\" \"$B\""),
            ])
            .output()
            .expect("sh runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{tricky}|"));
        assert!(Scenario::new("").env("1x", "v").env_file().is_err());
        assert!(Scenario::new("").env("A-B", "v").env_file().is_err());
    }

    #[test]
    fn result_lines_parsed() {
        let console = "\
[    0.9] random kernel line\r
@@KR val http rs1\r
noise@@KR val http rs2\r
@@KR val empty\r
@@KR hex ipvs\r
@@KR hex ipvs 49 50 20 56\r
@@KR hex ipvs 0a\r
@@KR hexlen ipvs 5\r
@@KR hex none\r
@@KR hexlen none 0\r
@@KR exit 0\r
";
        let out = VmOutput::parse(console).expect("well-formed");
        assert_eq!(out.values("http"), ["rs1", "rs2"]);
        assert_eq!(out.value("http").expect("present"), "rs2");
        assert_eq!(out.value("empty").expect("present"), "");
        assert_eq!(out.text("ipvs").expect("present"), "IP V\n");
        assert_eq!(out.blobs["none"], Vec::<u8>::new());
        assert_eq!(out.exit, Some(0));
        assert!(out.errors.is_empty());
        assert!(matches!(out.value("nope"), Err(VmError::MissingResult(_))));
        assert!(!out.console_tail(10).contains("@@KR hex "));
    }

    #[test]
    fn lost_blob_lines_detected() {
        let lost = "@@KR hex a 01 02\n@@KR hexlen a 3\n@@KR exit 0\n";
        assert!(matches!(VmOutput::parse(lost), Err(VmError::Protocol(_))));
        assert!(VmOutput::parse("@@KR hex a zz\n").is_err());
        assert!(
            VmOutput::parse("@@KR hex a 01\n").is_err(),
            "no length line"
        );
        assert!(VmOutput::parse("@@KR bogus\n").is_err());
        let errs = VmOutput::parse("@@KR error insmod ip_vs: boom\n").expect("parses");
        assert_eq!(errs.errors, ["insmod ip_vs: boom"]);
        assert_eq!(errs.exit, None);
    }

    #[test]
    fn verdicts() {
        let ok = VmOutput::parse("@@KR val a 1\n@@KR exit 0\n").expect("parses");
        assert!(ok.verdict("").is_ok());
        let failed = VmOutput::parse("boom\n@@KR exit 3\n").expect("parses");
        match failed.verdict("qemu said") {
            Err(VmError::ScenarioFailed {
                status: 3,
                console_tail,
            }) => assert!(console_tail.contains("boom") && console_tail.contains("qemu said")),
            other => panic!("expected ScenarioFailed, got {other:?}"),
        }
        let silent = VmOutput::parse("[ 1.0] reboot: Power down\n").expect("parses");
        assert!(matches!(silent.verdict(""), Err(VmError::NoResult { .. })));
        let guest = VmOutput::parse("@@KR error insmod x: y\n@@KR exit 0\n").expect("parses");
        assert!(matches!(guest.verdict(""), Err(VmError::Guest { .. })));
    }

    /// Hex lines for `text` as kr_blob sends them.
    fn blob_lines(key: &str, text: &str) -> String {
        let hex: Vec<String> = text.bytes().map(|b| format!("{b:02x}")).collect();
        format!(
            "@@KR hex {key}\n@@KR hex {key} {}\n@@KR hexlen {key} {}\n",
            hex.join(" "),
            text.len()
        )
    }

    #[test]
    fn director_run_from_output() {
        let table = "TCP  192.168.1.100:80 rr\n  -> 192.168.1.11:80 Route 1 0 2\n";
        let mut console = String::from(
            "@@KR val dr.vip yes\n@@KR val dr.dests 2\n@@KR val dr.director-alive yes\n\
             @@KR val dr.http rs1\n@@KR val dr.http rs2\n\
             @@KR val trace.start.ip_vs_add_dest 2\n@@KR val trace.start.ip_vs_new_dest 2\n\
             @@KR val director.stopped term\n@@KR val trace.stop.ip_vs_del_dest 2\n\
             @@KR val dr.vip-after-stop no\n",
        );
        console.push_str(&blob_lines("dr.ipvsadm", table));
        console.push_str(&blob_lines("dr.ipvsadm-after-stop", ""));
        console.push_str(&blob_lines("director.log", "started\n"));
        console.push_str("@@KR exit 0\n");
        let out = VmOutput::parse(&console).expect("well-formed");
        let run = DirectorRun::from_output(out.clone()).expect("complete");
        assert!(run.vip && run.alive && run.stopped_by_term && !run.vip_after_stop);
        assert_eq!(run.dests, 2);
        assert_eq!(run.http, ["rs1", "rs2"]);
        assert_eq!(run.ipvs[0].destinations[0].inactive, 2);
        assert_eq!(run.ops_start["ip_vs_new_dest"], 2);
        assert_eq!(run.ops_stop["ip_vs_del_dest"], 2);
        assert!(run.reload.is_none() && run.backup.is_none());
        assert!(run.ipvs_after_stop.is_empty());
        assert_eq!(run.log, "started\n");
        // A missing report is an error, not a default.
        let cut = console.replace("@@KR val dr.vip yes\n", "");
        let out = VmOutput::parse(&cut).expect("well-formed");
        assert!(matches!(
            DirectorRun::from_output(out),
            Err(VmError::MissingResult(k)) if k == "dr.vip"
        ));
    }

    #[test]
    fn ipvs_identity_ignores_counters_and_order() {
        let a = parse_ipvsadm_ln(
            "UDP  10.0.0.1:53 rr\nTCP  10.0.0.1:80 wlc\n  -> 10.0.0.12:80 Route 1 5 7\n  -> 10.0.0.11:80 Route 2 0 1\n",
        )
        .expect("valid");
        let b = parse_ipvsadm_ln(
            "TCP  10.0.0.1:80 wlc\n  -> 10.0.0.11:80 Route 2 0 0\n  -> 10.0.0.12:80 Route 1 0 0\nUDP  10.0.0.1:53 rr\n",
        )
        .expect("valid");
        assert_ne!(a, b);
        assert_eq!(ipvs_identity(&a), ipvs_identity(&b));
        let c = parse_ipvsadm_ln("TCP  10.0.0.1:80 wlc\n  -> 10.0.0.11:80 Route 3 0 0\n")
            .expect("valid");
        assert_ne!(ipvs_identity(&a), ipvs_identity(&c), "weights count");
    }

    #[test]
    fn ipvsadm_listing() {
        let text = "\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.1.100:80 rr
  -> 192.168.1.11:80              Route   1      0          2         
  -> 192.168.1.12:80              Route   2      1          0         
UDP  [2001:db8::1]:53 wlc persistent 50
FWM  7 sh
  -> 10.0.0.5:0                   Masq    0      0          0         
";
        let s = parse_ipvsadm_ln(text).expect("valid listing");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].protocol, "TCP");
        assert_eq!(s[0].address, "192.168.1.100:80");
        assert_eq!(s[0].scheduler, "rr");
        assert_eq!(
            s[0].destinations[1],
            IpvsadmDest {
                address: "192.168.1.12:80".into(),
                forward: "Route".into(),
                weight: 2,
                active: 1,
                inactive: 0
            }
        );
        assert_eq!(s[1].flags, ["persistent", "50"]);
        assert!(s[1].destinations.is_empty());
        assert_eq!(s[2].address, "7");
        assert!(parse_ipvsadm_ln("  -> 1.2.3.4:80 Route 1 0 0\n").is_err());
        assert!(parse_ipvsadm_ln("TCP 1.2.3.4:80 rr\n  -> x Route one 0 0\n").is_err());
    }

    #[test]
    fn modules_resolve_in_load_order() {
        let Ok(kernel) = Kernel::cached() else {
            eprintln!("VM kernel not fetched (.ci/fetch-kernel): resolution not checked");
            return;
        };
        let mods = kernel
            .resolve_modules(BASE_MODULES, OPTIONAL_MODULES)
            .expect("Debian's kernel has the IPVS modules");
        let pos = |n: &str| mods.iter().position(|m| m.name == n);
        for (before, after) in [
            ("crc32c_generic", "libcrc32c"),
            ("libcrc32c", "nf_conntrack"),
            ("nf_defrag_ipv4", "nf_conntrack"),
            ("nf_conntrack", "ip_vs"),
            ("ip_vs", "ip_vs_rr"),
            ("llc", "stp"),
            ("stp", "bridge"),
        ] {
            let (Some(b), Some(a)) = (pos(before), pos(after)) else {
                panic!("{before} or {after} missing from {mods:?}");
            };
            assert!(b < a, "{before} must load before {after}");
        }
        assert!(pos("veth").is_some() && pos("ip_vs_wlc").is_some());
        let mut names: Vec<&str> = mods.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), mods.len(), "each module once");
        assert!(matches!(
            kernel.resolve_modules(&["no_such_module"], &[]),
            Err(VmError::ModuleMissing { .. })
        ));
    }
}
