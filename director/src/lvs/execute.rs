//! ldirectord's `execute=NAME`: other ldirectord configurations started and stopped with this
//! one (ldirectord.md 1, its `ld_cmd_children`): `ldirectord NAME start` once the table is
//! programmed at start-up, `ldirectord NAME stop` at stop, and at a reload `stop` for the
//! names removed, `reload` (or `start` if the reload fails) for the names kept, `start` for
//! the new ones. `ldirectord` is this binary run as `ldirectord`.
//!
//! `plan` and `start` are pure; the commands run in the `execute=` lane (`lane`).

/// One `ldirectord NAME COMMAND` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The configuration name as written after `execute=`.
    pub name: String,
    pub command: Command,
}

/// What is asked of a child instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Stop,
    /// `reload`, and `start` if the reload fails (the child was not running).
    ReloadOrStart,
}

impl Command {
    /// The `ldirectord` command word(s) run, in order (the second only if the first fails).
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Command::Start => &["start"],
            Command::Stop => &["stop"],
            Command::ReloadOrStart => &["reload", "start"],
        }
    }
}

fn jobs(names: &[String], command: Command) -> Vec<Job> {
    names
        .iter()
        .map(|name| Job {
            name: name.clone(),
            command,
        })
        .collect()
}

/// Start-up: every child is started.
pub fn start(names: &[String]) -> Vec<Job> {
    jobs(names, Command::Start)
}

/// Stop: every child is stopped.
pub fn stop(names: &[String]) -> Vec<Job> {
    jobs(names, Command::Stop)
}

/// A reload from `old` to `new`: removed ones stopped, kept ones reloaded (or started), new
/// ones started, in that order (ldirectord's `reread_config`).
pub fn plan(old: &[String], new: &[String]) -> Vec<Job> {
    let removed: Vec<String> = old.iter().filter(|n| !new.contains(n)).cloned().collect();
    let kept: Vec<String> = new.iter().filter(|n| old.contains(n)).cloned().collect();
    let added: Vec<String> = new.iter().filter(|n| !old.contains(n)).cloned().collect();
    let mut out = jobs(&removed, Command::Stop);
    out.extend(jobs(&kept, Command::ReloadOrStart));
    out.extend(jobs(&added, Command::Start));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(|n| n.to_string()).collect()
    }

    fn show(jobs: &[Job]) -> Vec<String> {
        jobs.iter()
            .map(|j| format!("{} {}", j.name, j.command.words().join("|")))
            .collect()
    }

    #[test]
    fn start_and_stop_every_child() {
        assert_eq!(
            show(&start(&names(&["a.cf", "b.cf"]))),
            ["a.cf start", "b.cf start"]
        );
        assert_eq!(show(&stop(&names(&["a.cf"]))), ["a.cf stop"]);
        assert!(start(&[]).is_empty());
    }

    #[test]
    fn reload_stops_removed_reloads_kept_starts_new() {
        let jobs = plan(&names(&["a.cf", "b.cf"]), &names(&["b.cf", "c.cf"]));
        assert_eq!(
            show(&jobs),
            ["a.cf stop", "b.cf reload|start", "c.cf start"]
        );
        assert_eq!(
            show(&plan(&names(&["a.cf"]), &names(&["a.cf"]))),
            ["a.cf reload|start"]
        );
        assert!(plan(&[], &[]).is_empty());
    }
}
