//! Reports: the markdown tables, wsproto's ratios to the other libraries, number formatting,
//! and the header line (date, machine, versions).

use std::fmt::Write as _;
use std::process::Command;

use crate::servers::Lib;

/// 12 345 678 (the docs' thousands separator).
pub fn grouped(x: f64) -> String {
    let s = format!("{:.0}", x.round() + 0.0); // + 0.0: no "-0"
    let (sign, digits) = s.strip_prefix('-').map_or(("", &*s), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

pub fn size_name(s: usize) -> String {
    match s {
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

/// Where wsproto is compared with each other library present: "ws/fws | ws/tt" cells.
pub fn ratios<T>(libs: &[Lib], row: &[T], value: impl Fn(&T) -> f64) -> Vec<String> {
    let Some(w) = libs.iter().position(|&l| l == Lib::Wsproto) else {
        return Vec::new();
    };
    libs.iter()
        .enumerate()
        .filter(|&(_, l)| *l != Lib::Wsproto && *l != Lib::Plain)
        .map(|(i, _)| ratio(value(&row[w]), value(&row[i])))
        .collect()
}

pub fn ratio_heads(libs: &[Lib]) -> Vec<String> {
    if !libs.contains(&Lib::Wsproto) {
        return Vec::new();
    }
    libs.iter()
        .filter(|&&l| l != Lib::Wsproto && l != Lib::Plain)
        .map(|l| format!("wsproto / {}", l.title()))
        .collect()
}

pub fn table(head: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        head.join(" | "),
        " --- |".repeat(head.len())
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

fn package_version(name: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .unwrap_or_default();
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next())
        .map_or_else(|| "?".into(), |v| format!("{name} {v}"))
}

pub fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{cmd}: ?"))
}

pub fn header() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Run {} on {cores} cores ({cpu}); {}; {}, {}, {}, {}.\n",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        command_line("rustc", &["--version"]),
        package_version("tokio"),
        package_version("tokio-tungstenite"),
        package_version("fastwebsockets"),
        package_version("stats_alloc"),
    );
}
