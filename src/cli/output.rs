//! Standard output of the headless commands. Rust ignores SIGPIPE, so a `println!` to a pipe
//! whose reader is gone (`rackstrap apply --dry-run | head`) panics, and so does one to a full
//! disk. Here a reader that went away ends the output quietly, as coreutils' tools end on
//! SIGPIPE, and the command runs on to its own exit code; any other write error is said once
//! on stderr when the command ends ([`finish`]) and the exit code is 2. Output after a failed
//! write is dropped: the run logs keep everything.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;
use std::sync::Mutex;

/// The first error writing to stdout, if any.
static FAILED: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes `text` to stdout as it is, flushed.
pub fn print(text: &str) {
    let mut failed = FAILED.lock().unwrap_or_else(|p| p.into_inner());
    if failed.is_some() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        *failed = Some(e);
    }
}

/// Writes `text` and a newline to stdout.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// The exit code once the command returned `code`: 2 with a message on stderr when stdout
/// could not be written (a full disk), `code` when it was written or its reader went away.
pub fn finish(code: ExitCode) -> ExitCode {
    let failure = FAILED.lock().unwrap_or_else(|p| p.into_inner()).take();
    let failure = failure.or_else(|| std::io::stdout().lock().flush().err());
    match failure {
        None => code,
        Some(e) if e.kind() == ErrorKind::BrokenPipe => code,
        Some(e) => {
            eprintln!("rackstrap: cannot write to standard output: {e}");
            ExitCode::from(2)
        }
    }
}

/// For a write to stdout that panicked outside these functions (`failed printing to stdout:
/// ...`): the exit code, the message said; `None` for any other panic.
pub fn panic_exit(message: &str) -> Option<i32> {
    let error = message.strip_prefix("failed printing to stdout: ")?;
    if error.starts_with("Broken pipe") {
        // What a shell reports for a process ended by SIGPIPE (128 + 13).
        return Some(141);
    }
    eprintln!("rackstrap: cannot write to standard output: {error}");
    Some(2)
}
