//! Task counts by state (`container_tasks_state`) from procfs.
//!
//! cAdvisor fills these from the kernel's taskstats netlink family (`CGROUPSTATS_CMD_GET`),
//! and only with `--enable_load_reader`; kubelet never turns that on, so its
//! `/metrics/cadvisor` reports all five states as 0. Here each thread of the cgroup's own
//! `cgroup.threads` (v1: `tasks`) is classified by the state letter of `/proc/<tid>/stat`
//! the way `cgroupstats_build` switches on `__state`: `R` running, `S` sleeping, `D`
//! uninterruptible, `T` stopped. The kernel counts `iowaiting` only for tasks in none of
//! those states that have `in_iowait` set, which procfs does not show: it stays 0.

use std::path::Path;

use crate::read::Reader;

/// Number of the cgroup's own tasks in each state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TaskStates {
    /// `S` (TASK_INTERRUPTIBLE).
    pub sleeping: f64,
    /// `R` (TASK_RUNNING).
    pub running: f64,
    /// `T` (TASK_STOPPED).
    pub stopped: f64,
    /// `D` (TASK_UNINTERRUPTIBLE).
    pub uninterruptible: f64,
    /// Waiting on I/O (not visible in procfs: always 0).
    pub iowaiting: f64,
}

/// The state letter of a `/proc/<tid>/stat` line: the first field after the command name,
/// which may itself hold spaces and parentheses.
pub fn state_of(stat: &str) -> Option<u8> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().bytes().next()
}

/// Counts the states of the threads listed in `threads_file`, reading their `stat` under
/// `procfs`; `tids` is a reused scratch list. `None` when the list cannot be read.
pub(crate) fn read(
    threads_file: &Path,
    procfs: &Path,
    r: &mut Reader,
    tids: &mut Vec<u32>,
) -> Option<TaskStates> {
    tids.clear();
    tids.extend(
        r.read(threads_file)?
            .lines()
            .filter_map(|l| l.trim().parse::<u32>().ok()),
    );
    let mut out = TaskStates::default();
    let mut path = procfs.to_path_buf();
    for tid in tids.iter() {
        path.push(tid.to_string());
        path.push("stat");
        let state = r.read(&path).and_then(state_of);
        path.pop();
        path.pop();
        match state {
            Some(b'R') => out.running += 1.0,
            Some(b'S') => out.sleeping += 1.0,
            Some(b'D') => out.uninterruptible += 1.0,
            Some(b'T') => out.stopped += 1.0,
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::state_of;

    #[test]
    fn state_after_the_command_name() {
        assert_eq!(state_of("1 (systemd) S 0 1 1 0"), Some(b'S'));
        assert_eq!(state_of("42 (my (odd) proc) R 1 42"), Some(b'R'));
        assert_eq!(state_of("7 (a) b) D 1"), Some(b'D'));
        assert_eq!(state_of("garbage"), None);
        assert_eq!(state_of("9 (x)"), None);
    }
}
