//! Example programs driven as other tools drive them: the real binary, started with its
//! command line, its `LISTENING ip:port` line read, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// The path of a built example (next to the test binaries: target/<profile>/examples/NAME).
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(name))
        .unwrap();
    assert!(bin.exists(), "{} is not built", bin.display());
    bin
}

/// A running example server, killed when dropped.
pub struct Server {
    pub child: Child,
    /// `ip:port` from its `LISTENING` line.
    pub addr: String,
}

impl Server {
    /// Starts `name` with `args` and waits for its `LISTENING ip:port` line.
    pub fn start(name: &str, args: &[&str]) -> Server {
        let mut child = Command::new(path(name))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("{name}: expected LISTENING ip:port, got {line:?}"))
            .trim()
            .to_owned();
        Server { child, addr }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `name` with `args` to the end (its output captured).
pub fn run(name: &str, args: &[&str]) -> Output {
    Command::new(path(name)).args(args).output().unwrap()
}
