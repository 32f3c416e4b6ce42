//! `ipvsctl`: drives the `ipvs` crate against the running kernel, for the VM
//! lab (`tests/tests/lab_ipvs.rs`) and the IPVS benchmark. Tables are JSON
//! files of `ipvs::DesiredTable`; listings use `ipvsadm -Ln`'s layout.
//!
//! ```text
//! ipvsctl show                                 listing read through the crate
//! ipvsctl plan  DESIRED.json [OWNED.json]      ops a reconcile would run
//! ipvsctl apply DESIRED.json [OWNED.json]      reconcile (OWNED: service keys owned before)
//! ipvsctl start DESIRED.json [--flush]         first reconcile, lvs_flush optional
//! ipvsctl stop  DESIRED.json each|services|flush|keep
//! ipvsctl bench DESIRED.json                   add from empty, no-change pass, remove
//! ipvsctl exec  OPS.json                       run ops (pipelined), one result line each
//! ipvsctl info                                 version, timeouts, sync daemons
//! ipvsctl raw                                  family id and the raw dump datagrams, hex
//! ipvsctl stats                                counters like ipvsadm -Ln --stats --exact
//! ```

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use ipvs::reconcile::{read_table, ReconcileReport};
use ipvs::{DesiredTable, IpvsClient, NetlinkIpvs, Reconciler, ServiceKey, StopPolicy};

fn load<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn listing(c: &mut NetlinkIpvs) -> Result<String, String> {
    let info = c.info().map_err(|e| e.to_string())?;
    let mut table = Vec::new();
    for s in c.services().map_err(|e| e.to_string())? {
        let d = c.dests(&s.service.key).map_err(|e| e.to_string())?;
        table.push((s, d));
    }
    Ok(ipvs::show::ipvsadm_ln(&info, &table))
}

fn report(what: &str, r: &ReconcileReport) -> bool {
    println!("{what}.ops {}", r.ops.len());
    println!("{what}.done {}", r.applied.done);
    for f in &r.applied.failed {
        println!("{what}.failed {}", f.error);
    }
    r.applied.is_ok()
}

fn run(args: &[String]) -> Result<bool, String> {
    let mut c = NetlinkIpvs::connect().map_err(|e| e.to_string())?;
    let arg = |i: usize| args.get(i).map(String::as_str);
    let owned = |i: usize| -> Result<BTreeSet<ServiceKey>, String> {
        match arg(i) {
            Some(p) if !p.starts_with("--") => load(p),
            _ => Ok(BTreeSet::new()),
        }
    };
    match (arg(0), arg(1)) {
        (Some("show"), _) => {
            print!("{}", listing(&mut c)?);
            Ok(true)
        }
        (Some("info"), _) => {
            let i = c.info().map_err(|e| e.to_string())?;
            println!("info.version {}", i.version_string());
            println!("info.size {}", i.conn_tab_size);
            let t = c.config().map_err(|e| e.to_string())?;
            println!("info.timeouts {} {} {}", t.tcp, t.tcp_fin, t.udp);
            for d in c.daemons().map_err(|e| e.to_string())? {
                println!(
                    "info.daemon {:?} {} {} {:?} {:?} {:?} {:?}",
                    d.state,
                    d.ifname,
                    d.sync_id,
                    d.sync_maxlen,
                    d.mcast_group,
                    d.mcast_port,
                    d.mcast_ttl
                );
            }
            Ok(true)
        }
        (Some("stats"), _) => {
            let line = |s: &ipvs::Stats| {
                format!(
                    "{} {} {} {} {}",
                    s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes
                )
            };
            for s in c.services().map_err(|e| e.to_string())? {
                println!("{} {}", s.service.key, line(&s.stats));
                for d in c.dests(&s.service.key).map_err(|e| e.to_string())? {
                    println!("  -> {} {}", d.dest.key, line(&d.stats));
                }
            }
            Ok(true)
        }
        (Some("raw"), _) => {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            println!("family {}", c.family_id());
            let services = c.services().map_err(|e| e.to_string())?;
            for d in c.dump_raw(None).map_err(|e| e.to_string())? {
                println!("services {}", hex(&d));
            }
            for s in services {
                for d in c
                    .dump_raw(Some(&s.service.key))
                    .map_err(|e| e.to_string())?
                {
                    println!(
                        "dests {} {}",
                        serde_json::to_string(&s.service.key).map_err(|e| e.to_string())?,
                        hex(&d)
                    );
                }
            }
            Ok(true)
        }
        (Some("exec"), Some(file)) => {
            let ops: Vec<ipvs::Op> = load(file)?;
            for (i, r) in c.execute(&ops).into_iter().enumerate() {
                match r {
                    Ok(()) => println!("exec.{i} ok"),
                    Err(e) => println!("exec.{i} err {} {e}", e.errno().unwrap_or(0)),
                }
            }
            Ok(true)
        }
        (Some("plan"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let mut owned = owned(2)?;
            owned.extend(desired.services.iter().map(|v| v.service.key));
            let actual = read_table(&mut c).map_err(|e| e.to_string())?;
            for op in ipvs::plan(&desired, &actual, &owned) {
                println!("{op}");
            }
            Ok(true)
        }
        (Some("apply"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let mut r = Reconciler::with_owned(owned(2)?);
            let rep = r.reconcile(&mut c, &desired).map_err(|e| e.to_string())?;
            Ok(report("apply", &rep))
        }
        (Some("start"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let flush = arg(2) == Some("--flush");
            let rep = Reconciler::new()
                .start(&mut c, &desired, flush)
                .map_err(|e| e.to_string())?;
            Ok(report("start", &rep))
        }
        (Some("stop"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let policy = match arg(2) {
                Some("each") => StopPolicy::DeleteEach,
                Some("services") => StopPolicy::DeleteServices,
                Some("flush") => StopPolicy::FlushAll,
                Some("keep") => StopPolicy::Keep,
                other => return Err(format!("stop policy {other:?}")),
            };
            let mut r =
                Reconciler::with_owned(desired.services.iter().map(|v| v.service.key).collect());
            let rep = r.stop(&mut c, policy).map_err(|e| e.to_string())?;
            Ok(report("stop", &rep))
        }
        (Some("bench"), Some(file)) => {
            let desired: DesiredTable = load(file)?;
            let mut r = Reconciler::new();
            let t = Instant::now();
            let add = r.reconcile(&mut c, &desired).map_err(|e| e.to_string())?;
            println!("bench.add_ms {:.1}", t.elapsed().as_secs_f64() * 1e3);
            let ok = report("bench.add", &add);
            let t = Instant::now();
            let same = r.reconcile(&mut c, &desired).map_err(|e| e.to_string())?;
            println!("bench.nochange_ms {:.1}", t.elapsed().as_secs_f64() * 1e3);
            let ok = report("bench.nochange", &same) && ok;
            // A health transition (one real server down), planned against
            // the cached table instead of a full read.
            let mut down = desired.clone();
            if let Some(r) = down.services.first_mut().and_then(|v| v.reals.first_mut()) {
                r.up = false;
            }
            let t = Instant::now();
            let health = r
                .reconcile_cached(&mut c, &down)
                .map_err(|e| e.to_string())?;
            println!("bench.health_ms {:.1}", t.elapsed().as_secs_f64() * 1e3);
            let ok = report("bench.health", &health) && ok;
            let t = Instant::now();
            let stop = r
                .stop(&mut c, StopPolicy::DeleteServices)
                .map_err(|e| e.to_string())?;
            println!("bench.remove_ms {:.1}", t.elapsed().as_secs_f64() * 1e3);
            Ok(report("bench.remove", &stop) && ok)
        }
        _ => Err("usage: ipvsctl show | plan|apply|start|stop|bench DESIRED.json ...".into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ipvsctl: {e}");
            ExitCode::from(2)
        }
    }
}
