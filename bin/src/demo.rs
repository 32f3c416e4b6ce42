//! `keepalived-rs demo`: a throwaway failover demonstration. Two directors
//! and a client in network namespaces on one bridge (testlab's netns lab,
//! nothing on the host's own interfaces), keepalived-rs on each director
//! with the same example config but different priorities; it shows who
//! holds the VIP, SIGKILLs the master, measures the takeover, and removes
//! everything.

use nix::sys::signal::Signal;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use testlab::netns::{HostProcess, Lab, Topology};

const VIP: &str = "10.99.0.100";

fn config(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int 1\n    authentication {{\n        auth_type PASS\n        auth_pass demo\n    }}\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

fn start(lab: &Lab, host: &str, conf: &str) -> Result<HostProcess, String> {
    let h = lab.host(host).map_err(|e| e.to_string())?;
    let dir = h.dir().join(host);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let conf_path = dir.join("keepalived.conf");
    std::fs::write(&conf_path, conf).map_err(|e| format!("{}: {e}", conf_path.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
    let args = [
        exe.to_string_lossy().into_owned(),
        "-n".into(),
        "-l".into(),
        "-D".into(),
        "-f".into(),
        conf_path.to_string_lossy().into_owned(),
        "-p".into(),
        p("keepalived.pid"),
        "-r".into(),
        p("vrrp.pid"),
        "-c".into(),
        p("checkers.pid"),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    h.spawn(&refs).map_err(|e| e.to_string())
}

/// One ping from the client to the VIP: does the current holder answer?
fn client_ping(lab: &Lab) {
    // Debian's minimal images have busybox but no iputils.
    let ping: &[&str] = if testlab::on_path("ping") {
        &["ping", "-c", "1", "-W", "1", VIP]
    } else {
        &["busybox", "ping", "-c", "1", "-W", "1", VIP]
    };
    let out = lab
        .host("client")
        .and_then(|c| c.run(ping, Duration::from_secs(3)));
    let answer = match out {
        Ok(o) if o.code() == Some(0) => "reply",
        Ok(_) => "no reply",
        Err(_) => "could not run ping",
    };
    println!("    client pings {VIP}: {answer}");
}

fn step(msg: &str) {
    println!("==> {msg}");
}

fn demo() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(
            "the demo needs root (network namespaces, raw sockets): run it with sudo".into(),
        );
    }
    let vip: IpAddr = VIP.parse().map_err(|e| format!("{VIP}: {e}"))?;
    step("building namespaces: director1, director2, client on one bridge (10.99.0.0/24)");
    let lab = Topology::lan(&["director1", "director2", "client"], "10.99.0")
        .build()
        .map_err(|e| e.to_string())?;
    for h in lab.hosts() {
        println!("    {} = netns {}", h.name(), h.ns());
    }
    println!("    example config of director1:\n");
    for l in config("MASTER", 150).lines() {
        println!("        {l}");
    }
    println!();
    step(
        "starting keepalived-rs on both directors (director1 priority 150, director2 priority 100)",
    );
    let mut d1 = start(&lab, "director1", &config("MASTER", 150))?;
    let mut d2 = start(&lab, "director2", &config("BACKUP", 100))?;
    let w = lab
        .wait_sole_holder(vip, "director1", Duration::from_secs(15))
        .map_err(|e| format!("{e}\n--- director1 log ---\n{}", d1.stdout()))?;
    println!(
        "    {VIP} is held by {:?} ({:.2} s after start)",
        w.holders,
        w.elapsed.as_secs_f64()
    );
    client_ping(&lab);
    step(
        "SIGKILL keepalived-rs on director1 (no goodbye advert: director2 must notice the silence)",
    );
    let killed = Instant::now();
    d1.kill_hard().map_err(|e| e.to_string())?;
    // The dead master's VIP stays on its interface: remove it as a crashed
    // machine would lose it, so only director2 can answer afterwards.
    if let Ok(h) = lab.host("director1") {
        let _ = h.del_addr("eth0", &format!("{VIP}/24"));
    }
    lab.wait_holder(vip, "director2", Duration::from_secs(10))
        .map_err(|e| format!("{e}\n--- director2 log ---\n{}", d2.stdout()))?;
    let took = killed.elapsed();
    println!(
        "    {VIP} moved to director2 in {:.2} s (expected about 3 x advert_int + skew = 3.61 s)",
        took.as_secs_f64()
    );
    client_ping(&lab);
    println!("    director2's log:");
    for l in d2.stdout().lines().filter(|l| l.contains("(VI_1)")) {
        println!("        {l}");
    }
    step("stopping director2 with SIGTERM (priority-0 advert, VIP removed)");
    let _ = d2.stop(Signal::SIGTERM, Duration::from_secs(5));
    let gone = lab.holders(vip).map_err(|e| e.to_string())?;
    println!("    holders of {VIP} now: {gone:?}");
    step("removing the namespaces");
    lab.teardown().map_err(|e| e.to_string())?;
    println!("done.");
    Ok(())
}

/// Runs the demo; its errors are printed, not propagated.
pub fn run() -> ExitCode {
    match demo() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}
