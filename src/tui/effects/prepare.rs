//! Making the Kubespray tree ready from the wizard: the core's prepare, its steps and log
//! lines sent to the Prepare popup.

use tokio::sync::mpsc::UnboundedSender;

use super::super::model::Msg;
use super::super::prepare::PrepareEvent;
use crate::plan::Plan;

/// Runs the core's prepare, its steps and log lines sent as `Msg::Preparing` (and the log
/// appended to `log`); what is ready, or what failed with where the log is.
pub fn prepare_kubespray(
    plan: &Plan,
    url: &str,
    python: &str,
    log: Option<&std::path::Path>,
    tx: &UnboundedSender<Msg>,
) -> Result<String, String> {
    use crate::kubespray::prepare::{Outcome, Reporter, prepare};
    let file = match log {
        Some(path) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("opening {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let mut sink = LogLines {
        tx: tx.clone(),
        file,
        partial: Vec::new(),
    };
    let step_tx = tx.clone();
    let mut progress = |line: &str| {
        let _ = step_tx.send(Msg::Preparing(PrepareEvent::Step(line.to_string())));
    };
    let result = prepare(
        plan,
        url,
        python,
        &mut Reporter {
            progress: &mut progress,
            log: &mut sink,
        },
    );
    sink.finish();
    let path = crate::kubespray::Tree::of(plan).path;
    match result {
        Ok(Outcome::AlreadyReady { ansible }) => Ok(format!(
            "{} was ready already (ansible-core {ansible})",
            path.display()
        )),
        Ok(Outcome::Prepared { ansible }) => Ok(format!(
            "{} is ready: ansible-core {ansible} in its virtualenv",
            path.display()
        )),
        Err(e) => Err(match log {
            Some(l) => format!("{e} (the whole log: {})", l.display()),
            None => e,
        }),
    }
}

/// The prepare log as it is written: into the file, and line by line to the wizard.
struct LogLines {
    tx: UnboundedSender<Msg>,
    file: Option<std::fs::File>,
    partial: Vec<u8>,
}

impl LogLines {
    fn send(&self, bytes: &[u8]) {
        let line = String::from_utf8_lossy(bytes)
            .trim_end_matches('\r')
            .to_string();
        let _ = self.tx.send(Msg::Preparing(PrepareEvent::Log(line)));
    }

    /// The last line, when it had no newline.
    fn finish(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.send(&rest);
        }
    }
}

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(f) = &mut self.file {
            f.write_all(buf)?;
        }
        self.partial.extend_from_slice(buf);
        while let Some(i) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.send(&line[..i]);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}
