//! The loop of `director top`: the control socket asked every refresh, keys read in between.

use std::io;
use std::path::Path;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use tokio::time::Instant;

use super::draw;
use super::view::{self, Key, View};
use crate::control::{self, Request, Response};
use crate::status::Status;
use crate::traffic::Traffic;

/// Run `director top` against the daemon of `run_dir` until `q`; the exit status (3 when the
/// daemon cannot be reached at the start, as `director status`).
pub fn run(run_dir: &Path, refresh: Duration) -> i32 {
    let Some(rt) = runtime() else {
        return 1;
    };
    let (status, traffic) = rt.block_on(fetch(run_dir));
    if let Err(e) = &status {
        eprintln!("director: {e}");
        return 3;
    }
    let mut view = View::default();
    view.update(status, traffic);
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("director: top needs a terminal: {e}");
            return 1;
        }
    };
    let result = run_loop(&mut terminal, &rt, run_dir, refresh, &mut view);
    ratatui::restore();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("director: top: {e}");
            1
        }
    }
}

fn run_loop(
    terminal: &mut ratatui::DefaultTerminal,
    rt: &tokio::runtime::Runtime,
    run_dir: &Path,
    refresh: Duration,
    view: &mut View,
) -> io::Result<()> {
    let mut next = Instant::now() + refresh;
    loop {
        terminal.draw(|f| draw::draw(f, view, refresh.as_secs().max(1), true))?;
        let now = Instant::now();
        if now >= next {
            let (status, traffic) = rt.block_on(fetch(run_dir));
            view.update(status, traffic);
            next = now + refresh;
            continue;
        }
        if !event::poll(next - now)? {
            continue;
        }
        if let Event::Key(k) = event::read()? {
            if k.kind != KeyEventKind::Press {
                continue;
            }
            let key = match k.code {
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::Quit,
                KeyCode::Char('q') | KeyCode::Esc => Key::Quit,
                KeyCode::Up | KeyCode::Char('k') => Key::Up,
                KeyCode::Down | KeyCode::Char('j') => Key::Down,
                KeyCode::PageUp => Key::PageUp,
                KeyCode::PageDown => Key::PageDown,
                KeyCode::Home | KeyCode::Char('g') => Key::Home,
                KeyCode::End | KeyCode::Char('G') => Key::End,
                KeyCode::Char('d') => Key::Drain,
                KeyCode::Char('e') => Key::Enable,
                _ => continue,
            };
            if !view.key(key) {
                return Ok(());
            }
            if let Some(req) = view.request(key) {
                let answer = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(5), control::request(run_dir, &req))
                        .await
                });
                view.message = Some(match answer {
                    Ok(Ok(Response::Ok { message } | Response::Error { message })) => message,
                    Ok(Ok(other)) => format!("unexpected answer: {other:?}"),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "the daemon did not answer within 5 s".to_string(),
                });
                // show the change at once
                next = Instant::now();
            }
        }
    }
}

/// `director top --once`: one screen as text on stdout, `width` columns wide, with rates over
/// two readings a rate window apart (for scripts, logs and the README); the exit status.
pub fn once(run_dir: &Path, width: u16) -> i32 {
    let Some(rt) = runtime() else {
        return 1;
    };
    let mut view = View::default();
    for i in 0..2 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(view::WINDOW_MS));
        }
        let (status, traffic) = rt.block_on(fetch(run_dir));
        if let Err(e) = &status {
            eprintln!("director: {e}");
            return 3;
        }
        view.update(status, traffic);
    }
    // the header, the column titles, every row, the footer
    let height = u16::try_from(view.header().len() + view.rows().len() + 2).unwrap_or(u16::MAX);
    print!("{}", draw::text(&view, width, height, false));
    0
}

/// The runtime the control socket is spoken on; none (said on stderr) if it cannot start.
fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("director: cannot start: {e}"))
        .ok()
}

/// One refresh: the status and the traffic (each bounded by 2 s).
async fn fetch(run_dir: &Path) -> (Result<Status, String>, Result<Traffic, String>) {
    let ask = |req: Request| async move {
        match tokio::time::timeout(Duration::from_secs(2), control::request(run_dir, &req)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the daemon did not answer within 2 s".to_string()),
        }
    };
    let status = match ask(Request::Status).await {
        Ok(Response::Status { status }) => Ok(*status),
        Ok(Response::Error { message }) => Err(message),
        Ok(other) => Err(format!("unexpected answer to status: {other:?}")),
        Err(e) => Err(e),
    };
    if status.is_err() {
        return (status, Err(String::new()));
    }
    let traffic = match ask(Request::Traffic).await {
        Ok(Response::Traffic { traffic }) => Ok(*traffic),
        Ok(Response::Error { message }) => Err(message),
        Ok(other) => Err(format!("unexpected answer to traffic: {other:?}")),
        Err(e) => Err(e),
    };
    (status, traffic)
}
