//! Example binaries driven end to end, as other tools drive them: [`binary`] finds (and
//! brings up to date) `target/<profile>/examples/NAME`, [`start`] runs it with
//! `--listen 127.0.0.1:0` and reads its `LISTENING ip:port` line. Included with
//! `#[path = "common/example.rs"] mod example;` by the tests that run examples.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The example `name` as `cargo test` builds it: `target/<profile>/examples/NAME`, the test
/// being `target/<profile>/deps/TEST-<hash>`.
///
/// When run by cargo (`$CARGO` set) and the layout is the plain one, the example is first
/// brought up to date with the same cargo, target directory, profile and features as this
/// test: a no-op after `cargo test --all-features` (which builds the examples), and it keeps
/// `cargo test --all-features --test TEST` from running a stale or missing binary.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps/");
    let bin = profile_dir.join("examples").join(name);
    let target_dir = profile_dir
        .parent()
        .filter(|t| t.join("CACHEDIR.TAG").is_file());
    let profile = profile_dir.file_name().and_then(|p| p.to_str());
    if let (Some(cargo), Some(target_dir), Some(profile)) =
        (std::env::var_os("CARGO"), target_dir, profile)
    {
        let features: Vec<&str> = [
            ("default", cfg!(feature = "default")),
            ("std", cfg!(feature = "std")),
            ("tokio", cfg!(feature = "tokio")),
            ("futures-io", cfg!(feature = "futures-io")),
            ("async-std", cfg!(feature = "async-std")),
            ("http", cfg!(feature = "http")),
            ("rustls", cfg!(feature = "rustls")),
            ("webpki-roots", cfg!(feature = "webpki-roots")),
            ("native-roots", cfg!(feature = "native-roots")),
            ("hyper", cfg!(feature = "hyper")),
            ("axum", cfg!(feature = "axum")),
            ("tracing", cfg!(feature = "tracing")),
            ("redis", cfg!(feature = "redis")),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
        let mut build = Command::new(cargo);
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--quiet",
                "--example",
                name,
                "--no-default-features",
            ])
            .arg("--features")
            .arg(features.join(","))
            .arg("--target-dir")
            .arg(target_dir)
            .stdin(Stdio::null());
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let output = build.output().expect("run cargo build --example");
        assert!(
            output.status.success(),
            "cargo build --example {name} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        bin.is_file(),
        "{} is missing: `cargo test --all-features` builds the examples \
         (or run `cargo build --all-features --example {name}` first)",
        bin.display()
    );
    bin
}

/// A running example, killed when dropped.
pub struct Example {
    pub child: Child,
    /// `ip:port` from its `LISTENING` line.
    pub addr: String,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the example `name` with `--listen 127.0.0.1:0` and `args`, and waits for its
/// `LISTENING ip:port` line (stderr is discarded).
pub fn start(name: &str, args: &[&str]) -> Example {
    let mut child = Command::new(binary(name))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn the {name} example: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("read the LISTENING line");
    let addr = match line.trim().strip_prefix("LISTENING ") {
        Some(addr) => addr.to_owned(),
        None => {
            let _ = child.kill();
            let status = child.wait();
            panic!("{name}: expected `LISTENING ip:port`, got {line:?} ({status:?})");
        }
    };
    Example { child, addr }
}

impl Example {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("LISTENING ip:port")
    }
}

/// Runs the example `name` with `args` to the end, its output captured.
pub fn run(name: &str, args: &[&str]) -> std::process::Output {
    Command::new(binary(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run the {name} example: {e}"))
}
