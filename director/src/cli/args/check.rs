//! ipvsadm's `process_options` checks: which options a command and a tunnel type allow.

use super::command::{
    Cmd, CMDNAMES, COMMANDS_V_OPTIONS, OPTNAMES, TUNNAMES, TUNNEL_TYPES_V_OPTIONS, TUNOPTS,
};
use super::parsed::{fail, Stop};

pub(super) fn generic_opt_check(cmd: Cmd, options: u64) -> Result<(), Stop> {
    let i = cmd.index();
    let row = &COMMANDS_V_OPTIONS[i];
    let mut last = 0usize;
    let mut count = 0;
    for (j, rule) in row.iter().enumerate() {
        if options & (1u64 << j) == 0 {
            if *rule == b'+' {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' command",
                    OPTNAMES[j], CMDNAMES[i]
                ));
            }
        } else {
            if *rule == b'x' {
                return fail(format!(
                    "Illegal '{}' option with the '{}' command",
                    OPTNAMES[j], CMDNAMES[i]
                ));
            }
            if *rule == b'1' {
                count += 1;
                if count == 1 {
                    last = j;
                    continue;
                }
                return fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' command",
                    OPTNAMES[j], OPTNAMES[last], CMDNAMES[i]
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn tunnel_opt_check(tun_type: u8, options: u64) -> Result<(), Stop> {
    let i = usize::from(tun_type);
    let (Some(row), Some(tname)) = (TUNNEL_TYPES_V_OPTIONS.get(i), TUNNAMES.get(i)) else {
        return Ok(());
    };
    let mut last = 0u32;
    let mut count = 0;
    for (j, rule) in row.iter().enumerate() {
        let k = TUNOPTS[j];
        if options & (1u64 << k) == 0 {
            if *rule == b'+' {
                return fail(format!(
                    "You need to supply the '{}' option for the '{}' tunnel type",
                    OPTNAMES[k as usize], tname
                ));
            }
        } else {
            if *rule == b'x' {
                return fail(format!(
                    "Illegal '{}' option with the '{}' tunnel type",
                    OPTNAMES[k as usize], tname
                ));
            }
            if *rule == b'1' {
                count += 1;
                if count == 1 {
                    last = k;
                    continue;
                }
                return fail(format!(
                    "The option '{}' conflicts with the '{}' option in the '{}' tunnel type",
                    OPTNAMES[k as usize], OPTNAMES[last as usize], tname
                ));
            }
        }
    }
    Ok(())
}
