//! Notify scripts (notify_master/backup/fault/stop and the generic `notify`)
//! started without blocking the instance that fires them.
//!
//! keepalived (reference 4.11) runs them asynchronously with no ordering
//! guarantee; the generic `notify` gets four extra arguments:
//! `INSTANCE <name> <MASTER|BACKUP|FAULT|STOP> <priority>`. Scripts run in
//! their own process group, with `IFS`, `LD_PRELOAD` and `LD_LIBRARY_PATH`
//! removed from their environment (reference 3.3).

use std::process::Stdio;
use tokio::process::Command;

/// A script to run: program and its arguments, already split as the config
/// parser split them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCmd {
    pub argv: Vec<String>,
}

impl NotifyCmd {
    /// Splits a script line on whitespace, honouring single and double
    /// quotes (keepalived passes the words to execve, no shell).
    pub fn parse(line: &str) -> Option<Self> {
        let mut argv = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut have = false;
        for c in line.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => cur.push(c),
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    have = true;
                }
                None if c.is_whitespace() => {
                    if have {
                        argv.push(std::mem::take(&mut cur));
                        have = false;
                    }
                }
                None => {
                    cur.push(c);
                    have = true;
                }
            }
        }
        if have {
            argv.push(cur);
        }
        (!argv.is_empty()).then_some(NotifyCmd { argv })
    }

    /// The same command with extra arguments (the generic `notify` form).
    pub fn with_args<I: IntoIterator<Item = String>>(&self, extra: I) -> Self {
        let mut argv = self.argv.clone();
        argv.extend(extra);
        NotifyCmd { argv }
    }
}

/// The four arguments keepalived appends for the generic `notify` script.
pub fn generic_args(instance: &str, state: &str, priority: u8) -> Vec<String> {
    vec![
        "INSTANCE".to_string(),
        instance.to_string(),
        state.to_string(),
        priority.to_string(),
    ]
}

/// The command for a configured script (notify or track script), set up
/// as keepalived runs scripts: exec'd directly with the configured argv, in
/// its own process group, without `IFS`, `LD_PRELOAD` and
/// `LD_LIBRARY_PATH` in its environment, no stdio. `None` for an empty argv.
pub fn script_command(argv: &[String], kill_on_drop: bool) -> Option<Command> {
    let (prog, args) = argv.split_first()?;
    let mut c = Command::new(prog);
    c.args(args)
        .env_remove("IFS")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(kill_on_drop);
    Some(c)
}

/// Starts `cmd` in the background and reaps it on a tokio task; a failure
/// to start or a non-zero exit is logged, never propagated. Needs a tokio
/// runtime.
pub fn spawn(cmd: &NotifyCmd) {
    let Some(mut c) = script_command(&cmd.argv, false) else {
        return;
    };
    let line = cmd.argv.join(" ");
    match c.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                match child.wait().await {
                    Ok(st) if st.success() => {}
                    Ok(st) => tracing::info!("Script {line} exited with status {st}"),
                    Err(e) => tracing::info!("Script {line} wait failed: {e}"),
                }
            });
        }
        Err(e) => tracing::warn!("Failed to exec notify script {line}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_words_and_keeps_quoted_spaces() {
        let c = NotifyCmd::parse(r#"/bin/echo "a b" c 'd e'"#).expect("cmd");
        assert_eq!(c.argv, vec!["/bin/echo", "a b", "c", "d e"]);
        assert!(NotifyCmd::parse("   ").is_none());
        assert_eq!(
            NotifyCmd::parse(r#"x """#).expect("cmd").argv,
            vec!["x", ""]
        );
    }

    #[test]
    fn generic_notify_gets_four_args() {
        let c = NotifyCmd::parse("/etc/keepalived/notify.sh").expect("cmd");
        let g = c.with_args(generic_args("VI_1", "MASTER", 150));
        assert_eq!(
            g.argv,
            vec![
                "/etc/keepalived/notify.sh",
                "INSTANCE",
                "VI_1",
                "MASTER",
                "150"
            ]
        );
    }

    #[tokio::test]
    async fn spawned_script_runs_with_its_arguments() {
        let d = tempfile::tempdir().expect("tempdir");
        let out = d.path().join("out");
        let c = NotifyCmd {
            argv: vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("echo \"$0 $1\" > {}", out.display()),
                "INSTANCE".into(),
                "VI_1".into(),
            ],
        };
        spawn(&c);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(t) = std::fs::read_to_string(&out) {
                if t.ends_with('\n') {
                    assert_eq!(t, "INSTANCE VI_1\n");
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("notify script did not run");
    }
}
