//! The `director` binary (also run as `ipvsadm` and `ldirectord` through symlinks).

fn main() {
    let prog = std::env::args().next().unwrap_or_default();
    eprintln!("{prog}: not yet wired");
    std::process::exit(2);
}
