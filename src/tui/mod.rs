//! The interactive wizard (ratatui), in the Elm architecture: one model, one transition
//! function, drawing that only reads, and side effects as data run on tasks.
//!
//! ```text
//!   terminal key ─► Msg::Key ─┐
//!                             ├─► update::update(&mut Model, Msg) ─► Option<Effect>
//!   task result ──► Msg ──────┘        │                                  │
//!    (host found, stage line,          ▼                                  ▼
//!     file saved, passphrase    view::render(&Model)           effects::Executor runs it
//!     needed)                   (screens/, widgets/)            on a task ─► Msg ─► ...
//! ```
//!
//! A key goes `update` ─► `update::on_key` ─► the open popup (`popups`) or the screen shown
//! (`screens::current(m).on_key`), which changes the model in place and may
//! return an [`effects::Effect`] (scan these targets, run these stages, save the plan). The
//! executor runs it on a task; what the task learns comes back as another `Msg` through the
//! same `update`. Nothing but `effects` does IO.
//!
//! Where things are:
//!
//! * `model`: `Model`, `Step`, `Msg`, and each screen's state (`model::state`); the plan is
//!   the model's, the screens only read it; `model::sync` puts the forms into the plan.
//! * `update`: `update`, routing keys, moving between steps, starting and aborting runs.
//! * `screens/<step>.rs`: one screen each, handed over as one `screens::Screen` table: its
//!   title, what it draws, its key table (the footer and the help are both made from it),
//!   what its keys do (Esc included), its help text, its findings and its text focus.
//! * `popups`: help, quit, save path, search, mount point, passphrase, typed consent.
//! * `prepare`: the offer to make the Kubespray tree ready before Provision, and its log.
//! * `view` with `widgets/`: the frame (title, step bar, findings strip, footer, popups).
//! * `effects`: side effects as data and the executor that runs them on tasks.
//! * `terminal`: raw mode, alternate screen, panic hook, restore on drop.
//! * `text`: the user-facing strings.
//! * `summary`: what the wizard prints on exit, and its exit code.
//!
//! No rule lives here: findings, hardware floors, field limits, target lists and mount
//! points are the core's (`plan::check`, `net`, `discover`); the screens call them and
//! show what they say.
//!
//! The loop draws only after something happened (a key, a resize, a message); runner output
//! arrives in batches so a chatty stage cannot make it redraw more than ~10 times a second.

pub mod effects;
pub mod model;
pub mod popups;
pub mod prepare;
pub mod screens;
pub mod secret;
pub mod summary;
pub mod terminal;
pub mod text;
pub mod update;
pub mod view;
pub mod widgets;

use std::sync::Arc;

use color_eyre::eyre::{Context, Result};
use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc::unbounded_channel;

use effects::{Backend, Executor};
use model::{Model, Msg};
use update::update;

/// The transition function the event loop applies to each message: `update::update`, or a
/// stand-in that wraps it (the command line's panic drill).
pub type Update = fn(&mut Model, Msg) -> Option<effects::Effect>;

/// Runs the wizard until the operator quits. The terminal is restored on every path.
pub fn run(model: Model, backend: Backend) -> Result<Model> {
    run_with(model, backend, update)
}

/// [`run`], applying messages with `update` instead of [`update::update`].
pub fn run_with(model: Model, backend: Backend, update: Update) -> Result<Model> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = rt.block_on(event_loop(model, backend, update));
    rt.shutdown_background();
    result
}

async fn event_loop(mut model: Model, backend: Backend, update: Update) -> Result<Model> {
    let mut tui = terminal::Tui::enter().context("opening the terminal")?;
    let (tx, mut rx) = unbounded_channel::<Msg>();
    let mut exec = Executor::new(backend, tx);
    if let Some(effect) = update::on_start(&mut model) {
        exec.execute(effect);
    }
    let mut events = EventStream::new();
    let size = tui.terminal.size().context("reading the terminal size")?;
    model.size = (size.width, size.height);
    if let Some(effect) = update(&mut model, Msg::Opened) {
        exec.execute(effect);
    }
    tui.terminal
        .draw(|f| view::render(&model, f))
        .context("drawing")?;
    // SIGTERM or SIGHUP (the terminal closed, a `kill`): leave the loop like a quit, so the
    // run in progress is cancelled and the terminal restored on the way out.
    let mut stop = StopSignals::new();
    loop {
        let msg = tokio::select! {
            _ = stop.next() => break,
            ev = events.next() => match ev {
                Some(Ok(TermEvent::Key(k))) => Msg::Key(k),
                Some(Ok(TermEvent::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("reading the terminal"),
                None => break,
            },
            Some(msg) = rx.recv() => msg,
        };
        if let Some(effect) = update(&mut model, msg) {
            exec.execute(effect);
        }
        // Take whatever else is already waiting before drawing once.
        while let Ok(msg) = rx.try_recv() {
            if let Some(effect) = update(&mut model, msg) {
                exec.execute(effect);
            }
        }
        if model.quit {
            break;
        }
        tui.terminal
            .draw(|f| view::render(&model, f))
            .context("drawing")?;
    }
    drop(exec);
    drop(tui);
    Ok(model)
}

/// SIGTERM and SIGHUP, when their handlers could be installed.
struct StopSignals {
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Resolves when either arrives; never without handlers.
    async fn next(&mut self) {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.term) => {}
            _ = one(&mut self.hup) => {}
        }
    }
}

/// The demo backend for a built-in lab.
pub fn demo_backend(lab: Arc<crate::lab::Lab>) -> Backend {
    let speed = crate::lab::Lab::speed_from_env();
    Backend::Demo {
        runner: crate::lab::LabRunner::new(lab.clone(), speed),
        lab,
        speed,
        pinned: Arc::default(),
    }
}

/// Draws the model into a test backend and returns the screen as text, one line per row
/// (trailing spaces trimmed). Used by the snapshot tests.
pub fn render_to_string(model: &Model, width: u16, height: u16) -> String {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let Ok(mut terminal) = ratatui::Terminal::new(backend);
    let mut m = model.clone();
    m.size = (width, height);
    if terminal.draw(|f| view::render(&m, f)).is_err() {
        return String::new();
    }
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
