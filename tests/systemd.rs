//! The systemd integration files in `systemd/` (see `systemd/README.md`).
//!
//! Always checked:
//! - the unit keeps the daemon's contract and every hardening line, each set once;
//! - the example configuration loads with the daemon's own loader, and its
//!   folders are the ones `remitd.tmpfiles` creates, inside the unit's
//!   writable paths.
//!
//! Checked when the systemd tools are on PATH (otherwise a note on standard
//! error says what was skipped, and the test passes):
//! - `systemd-analyze verify` prints nothing about the unit and exits 0;
//! - `systemd-analyze security --offline=true` rates its exposure 2.0 or less;
//! - `systemd-sysusers` and `systemd-tmpfiles` apply cleanly to a scratch
//!   root and give the folders the owners and modes the README promises.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use remitd::daemon::config::Config;

/// The highest exposure level (`systemd-analyze security`, 0 to 10) the unit may have.
const MAX_EXPOSURE: f64 = 2.0;

/// The command line the unit must start, as the daemon's contract fixes it.
const EXEC_START: &str = "ExecStart=/usr/bin/remitd run --config /etc/remitd/remitd.toml";

fn systemd_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(systemd_file(name)).unwrap_or_else(|e| panic!("systemd/{name}: {e}"))
}

/// Whether `program` is an executable file in a PATH directory.
fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|dir| std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Whether `program` is on PATH; says on standard error what `skipped` when it is not.
fn have(program: &str, skipped: &str) -> bool {
    let found = on_path(program);
    if !found {
        eprintln!("{program} is not on PATH: {skipped} not checked");
    }
    found
}

/// Runs a systemd tool without the caller's log level, which could add output.
fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program).args(args).current_dir(dir).env_remove("SYSTEMD_LOG_LEVEL").output().unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The unit's `Key=value` lines, comments and section headers left out.
fn directives(unit: &str) -> Vec<(&str, &str)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('['))
        .map(|l| l.split_once('=').unwrap_or_else(|| panic!("not a Key=value line: {l:?}")))
        .collect()
}

#[test]
fn unit_keeps_the_contract_and_its_hardening() {
    let unit = read("remitd.service");
    let lines: Vec<&str> = unit.lines().map(str::trim).collect();
    let required = [
        "Type=notify",
        "NotifyAccess=main",
        EXEC_START,
        "Restart=on-failure",
        "RestartSec=5",
        "WatchdogSec=30",
        "TimeoutStopSec=90",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "MemoryHigh=768M",
        "MemoryMax=1G",
        "User=remitd",
        "Group=remitd",
        "UMask=0077",
        "StateDirectory=remitd",
        "StateDirectoryMode=0750",
        "ConfigurationDirectory=remitd",
        "LoadCredential=database_url:/etc/remitd/database_url",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/remitd",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "DevicePolicy=closed",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "RestrictSUIDSGID=yes",
        "PrivateUsers=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectControlGroups=yes",
        "RestrictRealtime=yes",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",
        "ProtectProc=invisible",
        "ProcSubset=pid",
        "RestrictNamespaces=yes",
        "RemoveIPC=yes",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged @resources",
        "SystemCallArchitectures=native",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "IPAddressDeny=any",
        "IPAddressAllow=localhost",
    ];
    let missing: Vec<&str> = required.iter().copied().filter(|r| !lines.contains(r)).collect();
    assert!(missing.is_empty(), "systemd/remitd.service lacks {missing:?}");

    // A second line for a key would append to or override the one checked
    // above; only the system call filter is meant to come in two parts.
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (key, _) in directives(&unit) {
        *counts.entry(key).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(k, n)| **n > 1 && **k != "SystemCallFilter").collect();
    assert!(repeated.is_empty(), "keys set more than once: {repeated:?}");
    assert!(!counts.contains_key("DynamicUser"), "the drop folders are shared with a transfer account: no DynamicUser=");
}

#[test]
fn example_config_loads_and_matches_the_tmpfiles() {
    let example = read("remitd.toml");
    assert!(!example.lines().any(|l| l.trim_start().starts_with("database_url")), "the example must leave database_url out, so the credential is used");
    // The loader needs a database URL; giving it in the file keeps the
    // process environment (CREDENTIALS_DIRECTORY) untouched.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("remitd.toml");
    std::fs::write(&copy, format!("database_url = \"postgres://remitd@127.0.0.1:5432/remitd\"\n{example}")).unwrap();
    let config = Config::load(&copy).unwrap_or_else(|e| panic!("systemd/remitd.toml: {e}"));
    assert_eq!(config.http.listen.to_string(), "127.0.0.1:9835");
    assert_eq!(config.drop_folders.len(), 1);
    let acme = &config.drop_folders[0];
    assert_eq!(acme.name, "acme");
    assert_eq!((acme.poll_interval_secs, acme.settle_secs), (10, 2.0));

    // tmpfiles.d lines: Type Path Mode User Group Age.
    let tmpfiles = read("remitd.tmpfiles");
    let dirs: HashMap<&str, (&str, &str, &str)> = tmpfiles
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["d", path, mode, user, group, "-"] => (path, (mode, user, group)),
            _ => panic!("systemd/remitd.tmpfiles: unexpected line {l:?}"),
        })
        .collect();
    assert_eq!(dirs.get("/var/lib/remitd"), Some(&("0750", "remitd", "remitd")), "the state directory, as StateDirectoryMode= sets it");
    for (path, mode) in [(&acme.inbox, "2770"), (&acme.archive, "0750"), (&acme.error, "0750")] {
        let path = path.to_str().unwrap();
        assert_eq!(dirs.get(path), Some(&(mode, "remitd", "remitd")), "{path} in systemd/remitd.tmpfiles");
        assert!(path.starts_with("/var/lib/remitd/"), "{path} is outside ReadWritePaths=/var/lib/remitd");
    }
}

/// Quotes a path for the command line of a unit file (`%` starts a specifier).
fn unit_word(path: &str) -> String {
    if path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b)) {
        return path.to_string();
    }
    format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%"))
}

#[test]
fn unit_verifies_without_a_word() {
    if !have("systemd-analyze", "systemd-analyze verify") {
        return;
    }
    // `verify` loads the unit as the service manager would, warns about
    // unknown keys, bad values and unknown system call groups, and checks
    // that the ExecStart= program exists and is executable; it does not
    // resolve User= or read LoadCredential= sources (that happens at start),
    // so only the program path needs help on a machine without remitd
    // installed. `--root=DIR` would keep the file byte for byte, but it moves
    // the whole unit search path into DIR (sysinit.target and friends would
    // have to be copied in from the host), so instead a copy with only the
    // program path of ExecStart= rewritten to this build's binary is
    // verified. Every other line is the real one, and
    // `unit_keeps_the_contract_and_its_hardening` pins the real ExecStart=.
    let unit = read("remitd.service");
    let binary = unit_word(env!("CARGO_BIN_EXE_remitd"));
    let mut rewritten = 0;
    let copy: String = unit
        .lines()
        .map(|line| match line.strip_prefix("ExecStart=/usr/bin/remitd ") {
            Some(args) => {
                rewritten += 1;
                format!("ExecStart={binary} {args}\n")
            }
            None => format!("{line}\n"),
        })
        .collect();
    assert_eq!(rewritten, 1, "exactly one ExecStart=/usr/bin/remitd line");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remitd.service");
    std::fs::write(&path, copy).unwrap();
    let out = run("systemd-analyze", &["verify", path.to_str().unwrap()], dir.path());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && stdout.is_empty() && stderr.is_empty(), "systemd-analyze verify: {}\n{stdout}{stderr}", out.status);
}

/// The number in `→ Overall exposure level for remitd.service: 0.9 SAFE 😀`.
fn overall_exposure(report: &str) -> Option<f64> {
    let line = report.lines().find(|l| l.contains("Overall exposure level for"))?;
    line.rsplit_once(": ")?.1.split_whitespace().next()?.parse().ok()
}

#[test]
fn unit_exposure_is_low() {
    if !have("systemd-analyze", "the unit's exposure level") {
        return;
    }
    // The real file, unchanged: the offline review reads the unit file only.
    let path = systemd_file("remitd.service");
    let out = run("systemd-analyze", &["security", "--offline=true", path.to_str().unwrap()], path.parent().unwrap());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if stderr.contains("unrecognized option") {
        // --offline= came with systemd 250; older versions only review loaded units.
        eprintln!("systemd-analyze security has no --offline= (systemd older than 250): exposure not checked\n{stderr}");
        return;
    }
    let exposure = overall_exposure(&stdout).unwrap_or_else(|| panic!("no overall exposure level ({}):\n{stdout}{stderr}", out.status));
    eprintln!("systemd/remitd.service: overall exposure level {exposure}");
    assert!(out.status.success(), "systemd-analyze security: {}\n{stderr}", out.status);
    assert!(exposure <= MAX_EXPOSURE, "exposure level {exposure} is above {MAX_EXPOSURE}:\n{stdout}");
}

/// `passwd` or `group` entries by name.
fn entries(file: &Path) -> HashMap<String, Vec<String>> {
    let content = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    content
        .lines()
        .filter_map(|l| {
            let fields: Vec<String> = l.split(':').map(str::to_string).collect();
            Some((fields.first()?.clone(), fields))
        })
        .collect()
}

#[test]
fn sysusers_and_tmpfiles_apply_cleanly() {
    if !have("systemd-sysusers", "systemd/remitd.sysusers and systemd/remitd.tmpfiles") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    let root_arg = format!("--root={}", root.path().display());
    let sysusers = systemd_file("remitd.sysusers");
    let out = run("systemd-sysusers", &[&root_arg, sysusers.to_str().unwrap()], root.path());
    let stderr = text(&out.stderr);
    // It reports what it creates on standard error; anything else is a complaint.
    let complaints: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("Creating ")).collect();
    assert!(out.status.success() && complaints.is_empty(), "systemd-sysusers: {}\n{stderr}", out.status);
    let user = &entries(&root.path().join("etc/passwd"))["remitd"];
    let group = &entries(&root.path().join("etc/group"))["remitd"];
    assert_eq!(user[5], "/var/lib/remitd", "home directory");
    assert_eq!(user[3], group[2], "the primary group of remitd is remitd");

    if !have("systemd-tmpfiles", "systemd/remitd.tmpfiles") {
        return;
    }
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        eprintln!("not running as root: systemd-tmpfiles could not give the folders to remitd, systemd/remitd.tmpfiles not applied");
        return;
    }
    let tmpfiles = systemd_file("remitd.tmpfiles");
    let out = run("systemd-tmpfiles", &[&root_arg, "--create", tmpfiles.to_str().unwrap()], root.path());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success() && stdout.is_empty() && stderr.is_empty(), "systemd-tmpfiles: {}\n{stdout}{stderr}", out.status);
    let (uid, gid): (u32, u32) = (user[2].parse().unwrap(), group[2].parse().unwrap());
    for (dir, mode) in [("", 0o750), ("/acme", 0o750), ("/acme/inbox", 0o2770), ("/acme/archive", 0o750), ("/acme/error", 0o750)] {
        let path = root.path().join(format!("var/lib/remitd{dir}"));
        let meta = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(meta.is_dir(), "{}", path.display());
        assert_eq!((meta.mode() & 0o7777, meta.uid(), meta.gid()), (mode, uid, gid), "mode, owner and group of /var/lib/remitd{dir}");
    }
}
