//! The build driver: generated modules → a cargo crate on disk → `cargo build`.
//!
//! # Layout
//!
//! ```text
//! <cache>/                       HARNESSX_CACHE_DIR, else <workspace>/target/harnessx-cache
//!   target/                      one CARGO_TARGET_DIR shared by every generated crate
//!   gen-<batch hash>/            one crate per set of harnesses
//!     Cargo.toml                 package hx-gen-<batch hash>, its own empty [workspace]
//!     Cargo.lock                 a copy of this workspace's lock: same versions, offline
//!     src/lib.rs                 pub mod h_<hash>; ... + HARNESSES / by_hash / by_name
//!     src/main.rs                list | selftest | ir | schemas | render | dump
//!     src/h_<hash>.rs            one module per harness (`harnessx compile --emit rust`)
//!   run-<batch hash>/            the runner crate of `harnessx run` ([`write_runner`])
//!     Cargo.toml                 package hx-run-<batch hash>: the batch crate + the runtime
//!     src/main.rs                HASH ENV MODEL TASKS SEED WORKERS → traces and results
//! ```
//!
//! The batch hash is FNV-1a of the sorted, de-duplicated IR hashes, so the same set of
//! harnesses always lands in the same crate, and the K candidates of one evolution round
//! share one crate and one `cargo build`. Dependencies (the runtime, serde, regex) are
//! compiled once into the shared target directory and reused by every later batch.
//!
//! # No HTTP stack
//!
//! A batch crate needs the rules and the IR, never a model backend: `harnessx build` and
//! the evolution gate's build only check that the code compiles, and the gate evaluates in
//! process. So it depends on the runtime with `default-features = false`
//! ([`runtime_dependency`]), which leaves out the `openai` feature and with it the HTTP
//! client and TLS stack (ureq, rustls, ring, webpki). That halves a cold build (empty
//! cache directory): 83 s → 38 s wall, 43 s → 21 s CPU for `examples/household.harness`
//! on a busy two-core machine. A warm build of a new harness recompiles only the generated
//! crate (about 2 s either way). The runner crate of `harnessx run` ([`write_runner`])
//! turns the feature on when its model spec talks HTTP.
//!
//! # Keeping builds warm
//!
//! Files are written atomically (temporary file + rename) and only when their content
//! changed, so re-building an unchanged batch leaves every mtime alone and cargo has
//! nothing to do. The lock is copied only when the workspace's lock or the manifest
//! changed.
//!
//! # Where the runtime comes from
//!
//! The generated crate depends on `harnessx-runtime` by the absolute path of this
//! workspace's `runtime/`, found from the compiler crate's `CARGO_MANIFEST_DIR` at compile
//! time ([`workspace_dir`]). So a `harnessx` binary builds against the runtime of the
//! checkout it was built from; moving the checkout means rebuilding `harnessx`. That path
//! appears only in the generated `Cargo.toml`, never in generated Rust code.
//!
//! # Failures
//!
//! A cargo failure on generated code means the checker accepted a harness that the code
//! generator cannot compile — a compiler bug — and [`BuildError::Cargo`] says so, with
//! cargo's own output attached.

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harnessx_runtime::ir::{fnv1a64, HarnessIr};

use crate::codegen::{self, batch, CodegenError};

/// The environment variable that overrides the cache directory.
pub const CACHE_DIR_ENV: &str = "HARNESSX_CACHE_DIR";

/// The root of the workspace this compiler was built from (the parent of `compiler/`).
pub fn workspace_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// The runtime crate the generated code depends on.
pub fn runtime_dir() -> PathBuf {
    workspace_dir().join("runtime")
}

/// The `harnessx-runtime = { ... }` line of a generated manifest: the runtime by path,
/// without default features, plus the `openai` feature (the HTTP model backend) when
/// `http` is set. Batch crates pass `false`; see the module docs.
pub fn runtime_dependency(http: bool) -> String {
    let path = toml_string(&runtime_dir().to_string_lossy());
    let features = if http {
        ", features = [\"openai\"]"
    } else {
        ""
    };
    format!("harnessx-runtime = {{ path = {path}, default-features = false{features} }}")
}

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Where crates and the shared target directory live; `None`: [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// `cargo build --release` instead of the (faster to build) debug profile.
    pub release: bool,
}

/// `$HARNESSX_CACHE_DIR` if set and not empty, else `<workspace>/target/harnessx-cache`.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_dir().join("target").join("harnessx-cache"),
    }
}

impl BuildOptions {
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(default_cache_dir)
    }
}

/// One harness in a generated crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    pub name: String,
    pub hash: String,
    /// `h_<hash>`, also the file name `src/h_<hash>.rs`.
    pub module: String,
}

/// A generated crate on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCrate {
    pub dir: PathBuf,
    /// `hx-gen-<batch hash>`: also the name of its binary.
    pub package: String,
    pub batch_hash: String,
    /// In the order given, duplicates (same hash) removed.
    pub modules: Vec<ModuleInfo>,
    /// The shared `CARGO_TARGET_DIR`.
    pub target_dir: PathBuf,
    /// How many files had to be (re)written; 0 when the crate was already up to date.
    pub files_written: usize,
}

impl GeneratedCrate {
    /// The crate's library name (`hx_gen_<batch hash>`).
    pub fn lib_name(&self) -> String {
        self.package.replace('-', "_")
    }

    /// Where cargo puts the crate's binary for the given profile.
    pub fn binary(&self, release: bool) -> PathBuf {
        let profile = if release { "release" } else { "debug" };
        let exe = format!("{}{}", self.package, std::env::consts::EXE_SUFFIX);
        self.target_dir.join(profile).join(exe)
    }
}

/// A built crate.
#[derive(Debug, Clone)]
pub struct Built {
    pub krate: GeneratedCrate,
    pub binary: PathBuf,
    /// Wall time of `cargo build` alone.
    pub cargo_time: Duration,
    /// Whatever cargo wrote to standard error on success (warnings), usually empty.
    pub cargo_stderr: String,
}

#[derive(Debug)]
pub enum BuildError {
    /// No harness was given.
    Empty,
    Codegen(CodegenError),
    Io {
        path: PathBuf,
        error: io::Error,
    },
    /// cargo could not be started at all.
    CargoNotRun {
        program: OsString,
        error: io::Error,
    },
    /// cargo ran and failed. When the generated crate itself failed, that is a bug in
    /// the compiler (see the module docs); when a dependency failed (`failed_package` names
    /// it), the runtime checkout is broken and generated code is not to blame.
    Cargo {
        crate_dir: PathBuf,
        package: String,
        failed_package: Option<String>,
        status: Option<i32>,
        stderr: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Empty => write!(f, "no harness to build"),
            BuildError::Codegen(e) => write!(f, "{e}"),
            BuildError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            BuildError::CargoNotRun { program, error } => write!(
                f,
                "could not run `{}`: {error} (is cargo installed and on PATH, or CARGO set?)",
                Path::new(program).display()
            ),
            BuildError::Cargo {
                crate_dir,
                package,
                failed_package: Some(dep),
                status,
                stderr,
            } if dep != package => {
                let status = status.map_or_else(|| "a signal".to_string(), |c| c.to_string());
                write!(
                    f,
                    "cargo failed (exit status {status}) to build `{dep}`, a dependency of the \
                     generated crate at {}; the generated code was not compiled. Check that \
                     the runtime at {} builds (`cargo build -p harnessx-runtime`).\n\ncargo's \
                     output:\n{}",
                    crate_dir.display(),
                    runtime_dir().display(),
                    stderr.trim_end()
                )
            }
            BuildError::Cargo {
                crate_dir,
                status,
                stderr,
                ..
            } => {
                let status = status.map_or_else(|| "a signal".to_string(), |c| c.to_string());
                write!(
                    f,
                    "internal compiler error: cargo failed (exit status {status}) to build the \
                     generated crate at {}.\nThe checker accepted these harnesses, so the \
                     generated code should have compiled: this is a bug in the harnessx \
                     compiler. Please report it with the harness files.\n\ncargo's output:\n{}",
                    crate_dir.display(),
                    stderr.trim_end()
                )
            }
        }
    }
}

impl std::error::Error for BuildError {}

impl From<CodegenError> for BuildError {
    fn from(e: CodegenError) -> Self {
        BuildError::Codegen(e)
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BuildError + '_ {
    move |error| BuildError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// FNV-1a of the sorted, de-duplicated IR hashes, as 16 hex digits.
pub fn batch_hash(hashes: &[String]) -> String {
    let mut sorted: Vec<&str> = hashes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    format!("{:016x}", fnv1a64(sorted.join("\n").as_bytes()))
}

/// Generates and writes the crate for `irs` (without building it).
pub fn write_crate(irs: &[HarnessIr], opts: &BuildOptions) -> Result<GeneratedCrate, BuildError> {
    if irs.is_empty() {
        return Err(BuildError::Empty);
    }
    let mut modules: Vec<ModuleInfo> = Vec::new();
    let mut sources: Vec<String> = Vec::new();
    for ir in irs {
        let hash = ir.hash();
        if modules.iter().any(|m| m.hash == hash) {
            continue;
        }
        sources.push(codegen::generate_module(ir)?);
        modules.push(ModuleInfo {
            name: ir.name.clone(),
            module: codegen::module_name(ir),
            hash,
        });
    }
    let hashes: Vec<String> = modules.iter().map(|m| m.hash.clone()).collect();
    let batch_hash = batch_hash(&hashes);
    let package = format!("hx-gen-{batch_hash}");
    let cache = opts.cache_dir();
    let dir = cache.join(format!("gen-{batch_hash}"));
    let mut krate = GeneratedCrate {
        dir: dir.clone(),
        package: package.clone(),
        batch_hash,
        modules,
        target_dir: cache.join("target"),
        files_written: 0,
    };

    let entries: Vec<batch::BatchEntry> = krate
        .modules
        .iter()
        .map(|m| batch::BatchEntry {
            module: m.module.clone(),
        })
        .collect();
    let mut files: Vec<(PathBuf, String)> = vec![
        (dir.join("Cargo.toml"), cargo_toml(&package)),
        (dir.join("src/lib.rs"), batch::lib_rs(&entries)?),
        (dir.join("src/main.rs"), batch::main_rs(&krate.lib_name())?),
    ];
    for (m, src) in krate.modules.iter().zip(sources) {
        files.push((dir.join("src").join(format!("{}.rs", m.module)), src));
    }
    for (path, contents) in &files {
        if write_if_changed(path, contents.as_bytes())? {
            krate.files_written += 1;
        }
    }
    if pin_lock(&dir)? {
        krate.files_written += 1;
    }
    Ok(krate)
}

/// Generates, writes and builds the crate for `irs`.
pub fn build(irs: &[HarnessIr], opts: &BuildOptions) -> Result<Built, BuildError> {
    let krate = write_crate(irs, opts)?;
    let (cargo_time, cargo_stderr) = cargo_build(&krate, opts.release)?;
    let binary = krate.binary(opts.release);
    Ok(Built {
        krate,
        binary,
        cargo_time,
        cargo_stderr,
    })
}

/// Writes the runner crate of `harnessx run` beside the written batch crate `krate`:
/// `<cache>/run-<batch hash>/`, its own workspace, depending on the batch crate and the
/// runtime by path, sharing the batch crate's target dir (so dependencies are compiled
/// once) and pinned to the workspace's lock (so versions match, offline). Its `main`
/// comes from the same template as the batch crate's ([`batch::runner_main_rs`]); build
/// it with [`cargo_build`] and run [`GeneratedCrate::binary`].
///
/// The runtime gets its `openai` feature (the HTTP client and TLS) only when `http` is set,
/// i.e. the model spec is `openai:` or a cache around one. A `sim:`, `noisy:`, `scripted:`
/// or `replay:` run thus compiles no HTTP stack and reuses the runtime that `harnessx
/// build` compiled. Switching between the two rewrites this manifest (and re-pins the
/// lock); cargo keeps both runtime builds in the shared target dir, so switching back only
/// rebuilds the small generated and runner crates.
pub fn write_runner(krate: &GeneratedCrate, http: bool) -> Result<GeneratedCrate, BuildError> {
    let dir = krate
        .dir
        .parent()
        .unwrap_or(&krate.dir)
        .join(format!("run-{}", krate.batch_hash));
    let package = format!("hx-run-{}", krate.batch_hash);
    let manifest = runner_manifest(&package, krate, http);
    let main = batch::runner_main_rs(&krate.lib_name())?;
    let mut written = 0;
    written += usize::from(write_if_changed(
        &dir.join("Cargo.toml"),
        manifest.as_bytes(),
    )?);
    written += usize::from(write_if_changed(&dir.join("src/main.rs"), main.as_bytes())?);
    // The workspace's lock pins every dependency, re-copied when this manifest changes
    // (cargo prunes the copy to what the manifest needs); cargo adds the runner's own entry.
    written += usize::from(pin_lock(&dir)?);
    Ok(GeneratedCrate {
        dir,
        package,
        batch_hash: krate.batch_hash.clone(),
        modules: krate.modules.clone(),
        target_dir: krate.target_dir.clone(),
        files_written: written,
    })
}

/// The runner crate's `Cargo.toml` (see [`write_runner`]).
fn runner_manifest(package: &str, krate: &GeneratedCrate, http: bool) -> String {
    format!(
        "# Generated by harnessx: do not edit.\n\
         [package]\nname = \"{package}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{} = {{ path = {} }}\n{}\nserde_json = \"1\"\n\n\
         [profile.dev]\ndebug = false\n\n[workspace]\n",
        krate.package,
        toml_string(&krate.dir.to_string_lossy()),
        runtime_dependency(http),
    )
}

/// Runs `cargo build` on a written crate; returns its wall time and its standard error.
///
/// With the pinned lock present cargo runs `--offline`, so it resolves exactly the
/// workspace's versions without touching the network; should that fail for want of a
/// package that is not cached, it is retried once online.
pub fn cargo_build(
    krate: &GeneratedCrate,
    release: bool,
) -> Result<(Duration, String), BuildError> {
    let locked = krate.dir.join("Cargo.lock").is_file();
    let started = Instant::now();
    let mut output = run_cargo(krate, release, locked)?;
    if !output.status.success() && locked && offline_miss(&output.stderr) {
        output = run_cargo(krate, release, false)?;
    }
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.status.success() {
        Ok((elapsed, stderr))
    } else {
        Err(BuildError::Cargo {
            crate_dir: krate.dir.clone(),
            package: krate.package.clone(),
            failed_package: failed_package(&stderr),
            status: output.status.code(),
            stderr,
        })
    }
}

fn run_cargo(
    krate: &GeneratedCrate,
    release: bool,
    offline: bool,
) -> Result<std::process::Output, BuildError> {
    // Under `cargo run`/`cargo test` CARGO names the cargo in use; prefer it.
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(&program);
    cmd.arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(krate.dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &krate.target_dir)
        .stdin(Stdio::null());
    if release {
        cmd.arg("--release");
    }
    if offline {
        cmd.arg("--offline");
    }
    cmd.output()
        .map_err(|error| BuildError::CargoNotRun { program, error })
}

/// The package named by cargo's "could not compile `NAME`" line, if any.
fn failed_package(stderr: &str) -> Option<String> {
    let rest = &stderr[stderr.find("could not compile `")? + "could not compile `".len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// Whether a failed `--offline` build failed for want of a package not in the local cache.
fn offline_miss(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    text.contains("--offline") || text.contains("offline mode")
}

/// The generated crate's manifest. It is its own workspace (the empty `[workspace]`), so
/// it never joins an enclosing one, and its debug profile skips debug info, which the
/// generated code does not need and which costs link time.
fn cargo_toml(package: &str) -> String {
    let runtime = runtime_dependency(false);
    format!(
        "# Generated by harnessx: do not edit.\n\
         [package]\n\
         name = \"{package}\"\n\
         version = \"0.0.0\"\n\
         edition = \"2021\"\n\
         publish = false\n\
         \n\
         [dependencies]\n\
         {runtime}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\
         serde_json = \"1\"\n\
         regex = \"1\"\n\
         \n\
         [profile.dev]\n\
         debug = false\n\
         \n\
         [workspace]\n"
    )
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Copies the workspace's `Cargo.lock` into the crate in `dir` when the crate has none, or
/// the workspace's lock or the crate's `Cargo.toml` changed since the last copy (tracked by
/// their hashes in `.harnessx-lock`). Cargo then resolves the same versions as the
/// workspace and prunes what is unused — so a manifest that starts needing a pruned
/// package (a runner that turns on the runtime's `openai` feature) gets a whole lock
/// again, never an offline guess. Call it after writing the manifest. Returns whether
/// anything was written; without a workspace lock there is nothing to pin.
pub fn pin_lock(dir: &Path) -> Result<bool, BuildError> {
    let source = workspace_dir().join("Cargo.lock");
    let lock = match fs::read(&source) {
        Ok(bytes) => bytes,
        Err(_) => return Ok(false),
    };
    let marker = dir.join(".harnessx-lock");
    let manifest = fs::read(dir.join("Cargo.toml")).unwrap_or_default();
    let stamp = format!("{:016x} {:016x}\n", fnv1a64(&lock), fnv1a64(&manifest));
    let target = dir.join("Cargo.lock");
    let current = fs::read_to_string(&marker).unwrap_or_default();
    if current == stamp && target.is_file() {
        return Ok(false);
    }
    write_atomic(&target, &lock)?;
    write_atomic(&marker, stamp.as_bytes())?;
    Ok(true)
}

/// Writes `contents` to `path` unless it already holds exactly that. Returns whether it
/// wrote.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool, BuildError> {
    if fs::read(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    write_atomic(path, contents)?;
    Ok(true)
}

/// Temporary file in the same directory, then rename: a reader (cargo, a concurrent build)
/// sees the old file or the new one, never half of one.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), BuildError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    harnessx_runtime::fsutil::write_atomic(path, contents).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_hash_ignores_order_and_duplicates() {
        let a = batch_hash(&["b".into(), "a".into(), "a".into()]);
        assert_eq!(a, batch_hash(&["a".into(), "b".into()]));
        assert_ne!(a, batch_hash(&["a".into()]));
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn the_failing_package_is_found() {
        let e = "error: could not compile `harnessx-runtime` (lib) due to 1 previous error";
        assert_eq!(failed_package(e).as_deref(), Some("harnessx-runtime"));
        assert_eq!(failed_package("error: linker failed"), None);
        assert_eq!(failed_package("could not compile `x"), None);
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
        assert_eq!(toml_string("\n"), "\"\\u000A\"");
    }

    #[test]
    fn batch_crates_leave_out_the_http_backend() {
        let manifest = cargo_toml("hx-gen-0");
        let line = manifest
            .lines()
            .find(|l| l.starts_with("harnessx-runtime"))
            .unwrap_or_default();
        assert!(line.contains("default-features = false"), "{line}");
        assert!(!line.contains("openai"), "{line}");
        assert!(runtime_dependency(true)
            .ends_with("default-features = false, features = [\"openai\"] }"));
    }

    #[test]
    fn the_runner_gets_http_only_when_the_model_needs_it() {
        let krate = GeneratedCrate {
            dir: PathBuf::from("/c/gen-0"),
            package: "hx-gen-0".into(),
            batch_hash: "0".into(),
            modules: Vec::new(),
            target_dir: PathBuf::from("/c/target"),
            files_written: 0,
        };
        let runtime = |http| {
            runner_manifest("hx-run-0", &krate, http)
                .lines()
                .find(|l| l.starts_with("harnessx-runtime"))
                .map(str::to_string)
                .unwrap_or_default()
        };
        assert!(runtime(false).contains("default-features = false"));
        assert!(!runtime(false).contains("openai"));
        assert!(runtime(true).contains("features = [\"openai\"]"));
        let manifest = runner_manifest("hx-run-0", &krate, false);
        assert!(
            manifest.contains("hx-gen-0 = { path = \"/c/gen-0\" }"),
            "{manifest}"
        );
    }

    #[test]
    fn the_runner_and_the_batch_tool_share_their_main() {
        let runner = batch::runner_main_rs("hx_gen_0").expect("generates");
        let tool = batch::main_rs("hx_gen_0").expect("generates");
        assert!(runner.contains("hx_gen_0::by_hash(hash)"), "{runner}");
        let main = |s: &str| s[s.find("fn main() -> ExitCode").expect("a main")..].to_string();
        assert_eq!(main(&runner), main(&tool));
    }

    #[test]
    fn the_runtime_is_where_the_docs_say() {
        assert!(runtime_dir().join("Cargo.toml").is_file());
    }

    #[test]
    fn unchanged_files_are_not_rewritten() {
        let dir = std::env::temp_dir().join(format!("hx-write-{}", std::process::id()));
        let path = dir.join("sub/f.txt");
        assert!(write_if_changed(&path, b"one").expect("write"));
        assert!(!write_if_changed(&path, b"one").expect("same"));
        assert!(write_if_changed(&path, b"two").expect("changed"));
        assert_eq!(fs::read(&path).expect("read"), b"two");
        let _ = fs::remove_dir_all(&dir);
    }
}
