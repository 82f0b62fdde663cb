//! The built binary in a tmux pane: keys in, the screen read back as text.
//!
//! Each `Tmux` runs its own server (`tmux -L <unique socket>`) with a bash at a fixed size,
//! and kills it on drop, also when the test fails.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A pane of `width` x `height` in `dir`, running `cmd` in a bash without rc files.
    pub fn start(name: &str, width: u16, height: u16, cmd: &str, dir: &Path) -> Tmux {
        let socket = format!("rackstrap-{name}-{}", std::process::id());
        let t = Tmux { socket };
        let (w, h) = (width.to_string(), height.to_string());
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-x",
                &w,
                "-y",
                &h,
                "-c",
                &dir.display().to_string(),
                "-s",
                "main",
                "bash",
                "--norc",
                "--noprofile",
            ])
            .status
            .success();
        assert!(ok, "tmux new-session failed");
        t.run("export PS1='prompt> ' TERM=xterm-256color");
        t.run(cmd);
        t
    }

    pub fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Types `line` literally, then Enter.
    pub fn run(&self, line: &str) {
        self.cmd(&["send-keys", "-t", "main", "-l", line]);
        self.cmd(&["send-keys", "-t", "main", "Enter"]);
    }

    /// Types `text` literally (no Enter).
    pub fn type_text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "main", "-l", text]);
        std::thread::sleep(Duration::from_millis(60));
    }

    /// Sends tmux key names (`Enter`, `Down`, `BSpace`, `a`), one at a time.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.cmd(&["send-keys", "-t", "main", k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    /// Waits until the screen shows `text`; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        self.wait_for_within(text, Duration::from_secs(20))
    }

    /// `wait_for` with its own time limit.
    pub fn wait_for_within(&self, text: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            if start.elapsed() > limit {
                panic!("timed out waiting for {text:?}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
