//! Driving the wizard's model by hand with the live executor: keys in, and the effects'
//! answers fed back through `update` as the terminal loop would.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rackstrap::tui::effects::{Backend, Executor, Limits};
use rackstrap::tui::model::{Model, Msg};
use rackstrap::tui::update::update;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The live executor (real hosts over SSH, host keys pinned in `known_hosts`) and the
/// receiver of its answers. Its effects spawn tasks: enter a runtime (`rt.enter()`) first.
pub fn live_executor(known_hosts: PathBuf, limits: Limits) -> (Executor, UnboundedReceiver<Msg>) {
    let (tx, rx) = unbounded_channel();
    let backend = Backend::Live {
        known_hosts: Some(known_hosts),
        limits,
    };
    (Executor::new(backend, tx), rx)
}

/// One key press, its effect (if any) started.
pub fn key(m: &mut Model, exec: &mut Executor, code: KeyCode) {
    if let Some(e) = update(m, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))) {
        exec.execute(e);
    }
}

/// Types `text`, one key a character.
pub fn type_text(m: &mut Model, exec: &mut Executor, text: &str) {
    for c in text.chars() {
        key(m, exec, KeyCode::Char(c));
    }
}

/// Waits up to `limit` for the next message and applies it; `waiting_for` says what the
/// test expected when none came. Returns whether the message was one `stop` names.
pub fn apply_next(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
    limit: Duration,
    waiting_for: &str,
    stop: impl Fn(&Msg) -> bool,
) -> bool {
    let msg = rt
        .block_on(async { tokio::time::timeout(limit, rx.recv()).await })
        .unwrap_or_else(|_| panic!("{waiting_for}: nothing came within {limit:?}"))
        .expect("channel open");
    let stopped = stop(&msg);
    if let Some(e) = update(m, msg) {
        exec.execute(e);
    }
    stopped
}

/// Applies messages until one `stop` names has been applied.
pub fn pump_through(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
    limit: Duration,
    waiting_for: &str,
    stop: impl Fn(&Msg) -> bool,
) {
    while !apply_next(rt, m, exec, rx, limit, waiting_for, &stop) {}
}

/// Applies messages until `done` holds for the model (each awaited for up to 10 s).
pub fn pump_until(
    rt: &tokio::runtime::Runtime,
    m: &mut Model,
    exec: &mut Executor,
    rx: &mut UnboundedReceiver<Msg>,
    done: impl Fn(&Model) -> bool,
) {
    while !done(m) {
        apply_next(
            rt,
            m,
            exec,
            rx,
            Duration::from_secs(10),
            "an answer in time",
            |_| false,
        );
    }
}
