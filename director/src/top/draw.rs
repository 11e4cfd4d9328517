//! `director top`'s screen, drawn from a [`View`] with ratatui: the header, the table of
//! services and real servers, and a footer with the selected row's details and the keys.

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table, TableState};
use ratatui::Frame;

use super::view::{si, Row, View};
use crate::traffic::Rates;

/// The table's columns: title and width.
const COLUMNS: [(&str, u16); 11] = [
    ("VIRTUAL / REAL", 20),
    ("HEALTH", 9),
    ("WEIGHT", 6),
    ("ACTIVE", 7),
    ("INACT", 7),
    ("CONNS", 8),
    ("CONN/S", 7),
    ("PKT/S IN", 8),
    ("PKT/S OUT", 9),
    ("B/S IN", 7),
    ("B/S OUT", 7),
];

/// Draw the whole screen; `keys`: with the line of keys (the interactive view).
pub fn draw(frame: &mut Frame, view: &View, refresh_s: u64, keys: bool) {
    let header = view.header();
    let header_height = u16::try_from(header.len()).unwrap_or(3);
    let [top, table, bottom] = Layout::vertical([
        Constraint::Length(header_height),
        Constraint::Min(3),
        Constraint::Length(if keys { 2 } else { 1 }),
    ])
    .areas(frame.area());
    frame.render_widget(
        Paragraph::new(header.into_iter().map(Line::from).collect::<Vec<_>>()),
        top,
    );

    let rows = view.rows();
    // The names are kept whole: on a terminal too narrow for every column the name column
    // is a Min, which outranks Length in ratatui's layout, so the figures on the right are
    // cut instead (a Min also takes any spare width, hence Length when everything fits).
    let name_width = rows
        .iter()
        .map(|r| {
            r.real
                .as_ref()
                .map_or(r.service.len(), |real| real.len() + 2)
        })
        .max()
        .unwrap_or(0)
        .max(usize::from(COLUMNS[0].1));
    let name_width = u16::try_from(name_width).unwrap_or(u16::MAX);
    let needed = COLUMNS[1..].iter().map(|(_, w)| w + 1).sum::<u16>() + name_width + 2;
    let widths = COLUMNS.iter().enumerate().map(|(i, (_, w))| match i {
        0 if needed <= table.width => Constraint::Length(name_width),
        0 => Constraint::Min(name_width),
        _ => Constraint::Length(*w),
    });
    let titles = TableRow::new(COLUMNS.iter().map(|(t, _)| Cell::from(*t)))
        .style(Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED));
    let body = rows.iter().map(table_row);
    let widget = Table::new(body, widths)
        .header(titles)
        .column_spacing(1)
        .highlight_symbol("> ")
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state =
        TableState::default().with_selected((!rows.is_empty()).then(|| view.selected()));
    frame.render_stateful_widget(widget, table, &mut state);

    let mut footer = Vec::new();
    let detail = rows.get(view.selected()).map(|r| {
        let what = match &r.real {
            Some(real) => format!("{} {real}: {}", r.service, r.health),
            None => format!("{}: {}", r.service, r.health),
        };
        match &r.note {
            Some(n) => format!("{what} ({n})"),
            None => what,
        }
    });
    match (&view.error, view.traffic_note()) {
        (None, _) if view.message.is_some() => {
            footer.push(Line::from(view.message.clone().unwrap_or_default()));
        }
        (Some(e), _) => footer.push(
            Line::from(format!("showing the last reading: {e}"))
                .style(Style::default().fg(Color::Red)),
        ),
        (None, Some(n)) => footer.push(Line::from(format!("no traffic: {n}"))),
        (None, None) => footer.push(Line::from(detail.unwrap_or_default())),
    }
    if keys {
        footer.push(Line::from(format!(
            "up/down j/k select  PgUp/PgDn Home/End  d drain  e enable  q quit    refresh {refresh_s} s, rates over 4 s"
        )));
    }
    frame.render_widget(Paragraph::new(footer), bottom);
}

/// The screen as text, `width` x `height`, each line without its trailing blanks.
pub fn text(view: &View, width: u16, height: u16, keys: bool) -> String {
    use ratatui::backend::TestBackend;
    let mut terminal = match ratatui::Terminal::new(TestBackend::new(width, height)) {
        Ok(t) => t,
        Err(e) => match e {},
    };
    if let Err(e) = terminal.draw(|f| draw(f, view, 1, keys)) {
        match e {}
    }
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let line: String = (0..width).map(|x| buffer[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn table_row(r: &Row) -> TableRow<'static> {
    let name = match &r.real {
        Some(real) => format!("  {real}"),
        None => r.service.clone(),
    };
    let n = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    let rate = |f: fn(&Rates) -> f64| {
        r.rates
            .as_ref()
            .map(|x| si(f(x)))
            .unwrap_or_else(|| "-".into())
    };
    let health_style = match r.health.as_str() {
        "up" => Style::default().fg(Color::Green),
        "down" => Style::default().fg(Color::Red),
        "fallback" => Style::default().fg(Color::Yellow),
        _ => Style::default(),
    };
    let cells = vec![
        Cell::from(name),
        Cell::from(r.health.clone()).style(health_style),
        Cell::from(
            r.weight
                .map(|w| w.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::from(n(r.active)),
        Cell::from(n(r.inactive)),
        Cell::from(n(r.connections)),
        Cell::from(rate(|x| x.connections)),
        Cell::from(rate(|x| x.in_packets)),
        Cell::from(rate(|x| x.out_packets)),
        Cell::from(rate(|x| x.in_bytes)),
        Cell::from(rate(|x| x.out_bytes)),
    ];
    let row = TableRow::new(cells);
    if r.real.is_none() {
        row.style(Style::default().add_modifier(Modifier::BOLD))
    } else {
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{RealTraffic, ServiceTraffic, Totals, Traffic};

    fn screen(view: &View, width: u16, height: u16) -> Vec<String> {
        text(view, width, height, true)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn view() -> View {
        let mut status = super::super::view::tests::status();
        status.mode = "single".into();
        status.failover = None;
        status.uptime_s = 42;
        let reading = |taken_ms, c: u64| Traffic {
            taken_ms,
            dump_ms: 0,
            services: vec![ServiceTraffic {
                name: "tcp:192.0.2.132:80".into(),
                scheduler: "rr".into(),
                totals: Totals {
                    connections: c,
                    in_bytes: 1000 * c,
                    ..Totals::default()
                },
                reals: vec![RealTraffic {
                    address: "192.0.2.250:80".into(),
                    weight: 1,
                    active: 3,
                    inactive: 7,
                    persistent: 0,
                    totals: Totals {
                        connections: c,
                        in_bytes: 1000 * c,
                        ..Totals::default()
                    },
                }],
            }],
        };
        let mut v = View::default();
        v.update(Ok(status.clone()), Ok(reading(0, 100)));
        v.update(Ok(status), Ok(reading(4000, 180)));
        v
    }

    #[test]
    fn the_screen_shows_header_rows_rates_and_the_selection() {
        let mut v = view();
        let s = screen(&v, 120, 12);
        assert_eq!(
            s[0],
            "director top: node lb1 (single mode), up 42s, config /etc/ha.d"
        );
        assert_eq!(s[1], "single director (no ha.cf): no peer");
        assert_eq!(s[2], "VIPs: 192.0.2.132");
        assert!(s[3].starts_with("  VIRTUAL / REAL"), "{s:#?}");
        assert!(s[3].contains("B/S OUT"), "{s:#?}");
        let words = |line: &str| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        // selected first row; 80 connections over 4 s, 80 kB over 4 s
        assert_eq!(
            words(&s[4]),
            words("> tcp:192.0.2.132:80 1/2 up - 3 7 180 20 0 0 20.0k 0")
        );
        assert_eq!(
            words(&s[5]),
            words("192.0.2.250:80 up 1 3 7 180 20 0 0 20.0k 0")
        );
        assert_eq!(words(&s[6]), words("192.0.2.251:80 down - - - - - - - - -"));
        assert_eq!(s[10], "tcp:192.0.2.132:80: 1/2 up (rr)");
        assert!(s[11].contains("q quit"), "{s:#?}");
        v.key(super::super::view::Key::End);
        let s = screen(&v, 120, 12);
        assert!(s[6].starts_with(">   192.0.2.251:80"), "{s:#?}");
        assert_eq!(
            s[10],
            "tcp:192.0.2.132:80 192.0.2.251:80: down (connection refused)"
        );
    }

    #[test]
    fn the_text_of_once_has_every_row_and_no_keys() {
        let v = view();
        let t = text(&v, 120, 8, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 8);
        assert!(lines[6].contains("192.0.2.251:80"), "{t}");
        assert_eq!(lines[7], "tcp:192.0.2.132:80: 1/2 up (rr)");
        assert!(!t.contains("q quit"), "{t}");
    }

    #[test]
    fn a_narrow_screen_cuts_figures_not_names() {
        let v = view();
        let s = screen(&v, 60, 12);
        assert!(s[4].contains("> tcp:192.0.2.132:80 "), "{s:#?}");
        assert!(s[6].contains("    192.0.2.251:80 "), "{s:#?}");
    }

    #[test]
    fn a_lost_daemon_is_named_in_the_footer() {
        let mut v = view();
        v.update(
            Err("cannot reach the director daemon at /run/director/director.sock".into()),
            Err(String::new()),
        );
        let s = screen(&v, 120, 12);
        assert_eq!(
            s[10],
            "showing the last reading: cannot reach the director daemon at /run/director/director.sock"
        );
        assert!(s[4].contains("tcp:192.0.2.132:80"), "{s:#?}");
    }
}
