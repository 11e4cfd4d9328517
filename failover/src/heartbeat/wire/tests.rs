use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

/// The lab's authkeys: `auth 1` / `1 sha1 TestNetOnlySecret`.
fn lab_keys() -> AuthKeys {
    AuthKeys {
        active: 1,
        keys: BTreeMap::from([(1, AuthMethod::Sha1(b"TestNetOnlySecret".to_vec()))]),
    }
}

fn keys_with(active: u8, method: AuthMethod) -> AuthKeys {
    AuthKeys {
        active,
        keys: BTreeMap::from([(active, method)]),
    }
}

/// (type, bytes) of every packet in `captures.txt`.
fn captures() -> Vec<(String, Vec<u8>)> {
    include_str!("captures.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            let hex = parts.get(3).copied().unwrap_or_default();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (parts[0].to_string(), bytes)
        })
        .collect()
}

#[test]
fn every_capture_parses_and_emits_the_same_bytes() {
    let keys = lab_keys();
    let all = captures();
    assert_eq!(all.len(), 10);
    for (kind, bytes) in &all {
        let (msg, index) = parse(bytes, &keys).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(index, 1);
        assert_eq!(msg.kind(), Some(kind.as_str()));
        assert!(
            msg.get("auth").is_none(),
            "{kind}: auth is checked and dropped"
        );
        // The auth= field and the trailer are recomputed: byte for byte what Heartbeat sent.
        assert_eq!(&emit(&msg, &keys).unwrap(), bytes, "{kind}");
    }
}

#[test]
fn the_status_capture_decodes_field_by_field() {
    let (_, bytes) = &captures()[0];
    let (msg, _) = parse(bytes, &lab_keys()).unwrap();
    let names: Vec<&str> = msg.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["t", "st", "dt", "protocol", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl"]
    );
    assert_eq!(msg.get("st"), Some("init"));
    assert_eq!(msg.hex("dt"), Some(5000));
    assert_eq!(msg.decimal("protocol"), Some(1));
    assert_eq!(msg.get("src"), Some("ha02"));
    assert_eq!(
        msg.get_bin("srcuuid"),
        Some(
            &[
                0x51, 0xd8, 0xdc, 0x05, 0xd2, 0x09, 0x46, 0x07, 0x97, 0x60, 0xb6, 0xcc, 0x57, 0xe7,
                0x6a, 0x57
            ][..]
        )
    );
    assert_eq!(msg.hex("seq"), Some(1));
    assert_eq!(msg.hex("hg"), Some(0x6b06_3c24));
    assert_eq!(msg.get("ld"), Some("0.93 0.47 0.30 5/118 36"));
    assert_eq!(msg.decimal("ttl"), Some(3));
}

#[test]
fn negotiation_captures_carry_their_fields() {
    let all = captures();
    let get = |t: &str| {
        let (_, b) = all.iter().find(|(k, _)| k == t).unwrap();
        parse(b, &lab_keys()).unwrap().0
    };
    let rep = get("repnodes");
    assert_eq!(rep.fields[0].name, "dest", "repnodes puts dest first");
    assert_eq!(rep.get("nodelist"), Some("ha01 ha02 "));
    assert_eq!(rep.get("delnodelist"), Some(" "));
    let res = get("resource");
    assert_eq!(
        (res.get("rsc_hold"), res.get("rtype"), res.get("isstable")),
        (Some("none"), Some("full"), Some("0"))
    );
    let ask = get("ask_resources");
    assert_eq!(
        (ask.get("rsc_hold"), ask.get("info")),
        (Some("foreign"), Some("me"))
    );
    assert_eq!(get("shutdone").get("st"), Some("dead"));
    let ack = get("NS_ackmsg");
    assert_eq!((ack.hex("ackseq"), ack.get("seq")), (Some(2), None));
}

#[test]
fn a_wrong_key_or_a_changed_byte_is_refused() {
    let (_, bytes) = &captures()[0];
    let wrong = keys_with(1, AuthMethod::Sha1(b"TestNetOnlySecreT".to_vec()));
    assert_eq!(parse(bytes, &wrong), Err(DecodeError::BadAuth(1)));
    let other_index = keys_with(2, AuthMethod::Sha1(b"TestNetOnlySecret".to_vec()));
    assert_eq!(parse(bytes, &other_index), Err(DecodeError::UnknownKey(1)));
    // st=init -> st=inix: the trailer no longer matches.
    let mut changed = bytes.clone();
    let at = changed.windows(4).position(|w| w == b"init").unwrap();
    changed[at + 3] = b'x';
    assert_eq!(parse(&changed, &lab_keys()), Err(DecodeError::BadAuth(1)));
    // No trailer at all.
    let end = bytes.windows(4).position(|w| w == b"%%%\n").unwrap() + 4;
    assert_eq!(
        parse(&bytes[..end], &lab_keys()),
        Err(DecodeError::Unsigned)
    );
}

#[test]
fn decode_errors_name_the_place() {
    let keys = lab_keys();
    assert_eq!(parse(b"DRHB....", &keys), Err(DecodeError::NotHeartbeat));
    let e = parse(b"###\n11:(0)t=status,5:(0)x", &keys).unwrap_err();
    assert_eq!(e.to_string(), "field 1: length 5 runs past the end");
    let e = parse(b"###\n11:(0)t=status;", &keys).unwrap_err();
    assert_eq!(e.to_string(), "field 0: no ',' after the value");
    let e = parse(b"###\n5:(0)t=,%%%\n9:1 xx,", &keys).unwrap_err();
    assert_eq!(e.to_string(), "trailer: length 9 runs past the end");
    let e = parse(b"###\n8:(0)tstat,", &keys).unwrap_err();
    assert_eq!(e.to_string(), "field 0: no '='");
}

#[test]
fn md5_and_crc_sign_both_macs() {
    let msg = HeartbeatMessage::new()
        .with("t", "status")
        .with("st", "active")
        .with_bin("srcuuid", &[7; 16])
        .with("seq", "1f");
    for (n, method) in [
        (2, AuthMethod::Md5(b"k".to_vec())),
        (3, AuthMethod::Crc),
        (15, AuthMethod::Sha1(b"k".to_vec())),
    ] {
        let keys = keys_with(n, method.clone());
        let bytes = emit(&msg, &keys).unwrap();
        assert_eq!(parse(&bytes, &keys), Ok((msg.clone(), n)));
        // The inner auth= field is the MAC of the classic text.
        let text = b"t=status\nst=active\n(1)srcuuid=BwcHBwcHBwcHBwcHBwcHBw==\nseq=1f\n";
        let inner = format!("{n} {}", super::auth::mac(&method, text));
        let s = String::from_utf8_lossy(&bytes);
        assert!(s.contains(&format!("(0)auth={inner},%%%\n")), "{s}");
    }
}

#[test]
fn classic_framing_is_accepted_with_its_auth_field() {
    let keys = lab_keys();
    let method = AuthMethod::Sha1(b"TestNetOnlySecret".to_vec());
    let text = "t=status\nst=active\nsrc=ha01\n(1)srcuuid=BwcHBwcHBwcHBwcHBwcHBw==\n";
    let mac = super::auth::mac(&method, text.as_bytes());
    let packet = format!(">>>\n{text}auth=1 {mac}\n<<<\n\0");
    let (msg, n) = parse(packet.as_bytes(), &keys).unwrap();
    assert_eq!(n, 1);
    assert_eq!(msg.get("src"), Some("ha01"));
    assert_eq!(msg.get_bin("srcuuid"), Some(&[7u8; 16][..]));
    let forged = packet.replace("src=ha01", "src=ha02");
    assert_eq!(
        parse(forged.as_bytes(), &keys),
        Err(DecodeError::BadAuth(1))
    );
}

fn name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_-]{0,11}".prop_filter("auth is the MAC's own", |n| n != "auth")
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ -~]{0,40}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bin),
        (2u8..6, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(kind, bytes)| Value::Other { kind, bytes }),
    ]
}

proptest! {
    #[test]
    fn emit_then_parse_round_trips(
        fields in proptest::collection::vec((name(), value()), 0..12),
        which in 0usize..3,
    ) {
        let mut msg = HeartbeatMessage::new();
        for (n, v) in fields {
            msg.push(&n, v);
        }
        let keys = match which {
            0 => keys_with(1, AuthMethod::Sha1(b"s".to_vec())),
            1 => keys_with(4, AuthMethod::Md5(b"m".to_vec())),
            _ => keys_with(9, AuthMethod::Crc),
        };
        let bytes = emit(&msg, &keys).unwrap();
        let (back, n) = parse(&bytes, &keys).unwrap();
        prop_assert_eq!(n, keys.active);
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(emit(&back, &keys).unwrap(), bytes);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse(&bytes, &lab_keys());
        let mut framed = b"###\n".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = parse(&framed, &lab_keys());
    }
}
