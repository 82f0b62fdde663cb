//! The known_hosts files a command checks host keys against, read once before anything
//! connects (`KnownHosts::audit`): each line rackstrap leaves out is a warning on stderr, and
//! a file that cannot be read ends the command with exit 2 before any host is contacted.

use std::process::ExitCode;

use crate::ssh::ConnectOptions;
use crate::text::printable;

/// `Err(2)` (the message printed) when a known_hosts file of `opts` cannot be read.
pub fn read_known_hosts(opts: &ConnectOptions) -> Result<(), ExitCode> {
    match opts.known().audit() {
        Ok(notes) => {
            for note in notes {
                eprintln!("rackstrap: warning: known_hosts {}", printable(&note));
            }
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "rackstrap: known_hosts {}; nothing was run",
                printable(&e.to_string())
            );
            Err(ExitCode::from(2))
        }
    }
}
