// SPDX-License-Identifier: MIT OR Apache-2.0

//! `docs/abi.md` checked against this crate, so that the document cannot drift from the ABI again:
//! the function-ID tables, the error-code table, the VM exit table, every `NAME (`0x…`)` and
//! `NAME (-n)` in the prose, the Call UID, the revision and the SMCCC version, and the discovery
//! example's constants. A renamed or renumbered call, error or exit fails here, and so does a call
//! the crate decodes (or HYP_FEATURES reports) that the document does not list, or a table that is
//! missing.

use smc_interface::{
    CALL_REGS, HostCall, SUCCESS, SmcccError,
    ids::{self, HYP_REVISION_MAJOR as MAJOR, HYP_REVISION_MINOR as MINOR},
    pmu,
    result::{Features, Version},
    vm::{self, Exit, guest},
};
use std::collections::{BTreeMap, BTreeSet};

/// Every function ID the crate defines, under the name the document gives it.
const CALLS: &[(&str, u32)] = &[
    ("SMCCC_VERSION", ids::SMCCC_VERSION),
    ("SMCCC_ARCH_FEATURES", ids::SMCCC_ARCH_FEATURES),
    ("SMCCC_ARCH_WORKAROUND_1", ids::SMCCC_ARCH_WORKAROUND_1),
    ("SMCCC_ARCH_WORKAROUND_2", ids::SMCCC_ARCH_WORKAROUND_2),
    ("SMCCC_ARCH_WORKAROUND_3", ids::SMCCC_ARCH_WORKAROUND_3),
    ("HYP_FEATURES", ids::HYP_FEATURES),
    ("HYP_CALL_COUNT", ids::HYP_CALL_COUNT),
    ("HYP_CALL_UID", ids::HYP_CALL_UID),
    ("HYP_REVISION", ids::HYP_REVISION),
    ("PMU_INFO", pmu::PMU_INFO),
    ("PMU_STATUS", pmu::PMU_STATUS),
    ("PMU_RESERVE", pmu::PMU_RESERVE),
    ("PMU_UNRESERVE", pmu::PMU_UNRESERVE),
    ("VM_CREATE", vm::VM_CREATE),
    ("VM_LOAD", vm::VM_LOAD),
    ("VCPU_CREATE", vm::VCPU_CREATE),
    ("VCPU_RUN", vm::VCPU_RUN),
    ("VM_DESTROY", vm::VM_DESTROY),
    ("GUEST_REPORT", guest::GUEST_REPORT),
    ("GUEST_DONE", guest::GUEST_DONE),
];

/// The ranges this ABI's calls live in (function numbers 15:0 of the Arm architecture service and
/// of the vendor hypervisor service, SMC32 and SMC64).
const RANGES: [std::ops::RangeInclusive<u32>; 3] =
    [0x8000_0000..=0x8000_FFFF, 0x8600_0000..=0x8600_FFFF, 0xC600_0000..=0xC600_FFFF];

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/abi.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn call_id(name: &str) -> Option<u32> {
    CALLS.iter().find(|(n, _)| *n == name).map(|&(_, id)| id)
}

/// The lines of the section whose heading starts with `heading`, up to the next heading of the
/// same or a higher level.
fn section<'a>(doc: &'a str, heading: &str) -> Vec<&'a str> {
    let level = heading.chars().take_while(|&c| c == '#').count();
    let mut lines = doc.lines().skip_while(|l| !l.starts_with(heading));
    let first = lines.next().unwrap_or_else(|| panic!("docs/abi.md has no section `{heading}`"));
    let ends = |l: &&str| {
        let hashes = l.chars().take_while(|&c| c == '#').count();
        hashes > 0 && hashes <= level && l[hashes..].starts_with(' ')
    };
    std::iter::once(first).chain(lines.take_while(|l| !ends(l))).collect()
}

/// The first table at or after the first line that starts with `marker`: its rows as trimmed
/// cells with backticks removed, after checking its header. Panics if there is no such table.
fn table(lines: &[&str], marker: &str, header: &[&str]) -> Vec<Vec<String>> {
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with(marker))
        .unwrap_or_else(|| panic!("docs/abi.md: no `{marker}`"));
    let rows: Vec<Vec<String>> = lines[start..]
        .iter()
        .map(|l| l.trim())
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.trim_matches('|').split('|').map(|c| c.replace('`', "").trim().to_owned()).collect())
        .collect();
    assert!(rows.len() > 2, "docs/abi.md: no table after `{marker}`");
    assert_eq!(rows[0], header, "docs/abi.md: the header of the table after `{marker}`");
    assert!(rows[1].iter().all(|c| c.chars().all(|c| c == '-' || c == ':')), "separator after `{marker}`");
    rows[2..].iter().inspect(|r| assert_eq!(r.len(), header.len(), "{r:?}")).cloned().collect()
}

fn hex(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0x")?;
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| u32::from_str_radix(digits, 16).unwrap())
}

/// Checks a table of function IDs (columns ID and Name first) against [`CALLS`]; returns what it
/// lists. A row whose ID cell is not one hexadecimal ID (`other ...`) must have no name.
fn check_id_table(rows: &[Vec<String>], what: &str) -> BTreeMap<u32, String> {
    let mut listed = BTreeMap::new();
    for row in rows {
        let (id, name) = (&row[0], &row[1]);
        let Some(id) = hex(id) else {
            assert!(name.is_empty() && !id.starts_with("0x"), "{what}: row {row:?} is not one ID and a name");
            continue;
        };
        let expected = call_id(name).unwrap_or_else(|| panic!("{what}: {name} is no call of smc-interface"));
        assert_eq!(id, expected, "{what}: {name} is {expected:#010x} in smc-interface, {id:#010x} in the doc");
        assert!(listed.insert(id, name.clone()).is_none(), "{what}: {id:#010x} listed twice");
    }
    listed
}

fn regs(x0: u32) -> [u64; CALL_REGS] {
    let mut regs = [0; CALL_REGS];
    regs[0] = x0.into();
    regs
}

#[test]
fn function_id_table_matches_the_crate() {
    let doc = doc();
    let rows = table(&section(&doc, "## 5. Function IDs"), "|", &["ID", "Name", "Arguments", "Results", "Errors"]);
    let listed = check_id_table(&rows, "section 5");
    for (name, id) in CALLS {
        assert!(listed.contains_key(id), "section 5 does not list {name} ({id:#010x})");
    }
    // Whatever the crate decodes as a call, or HYP_FEATURES reports, is in the table: a call added
    // to the crate without a row fails here.
    for id in RANGES.into_iter().flatten() {
        let decoded = HostCall::decode(&regs(id)).is_ok();
        if decoded || Features::for_hyp_call(id).is_supported() {
            assert!(listed.contains_key(&id), "section 5 does not list {id:#010x}, which smc-interface defines");
        }
    }
}

/// The IDs a cell names: each `0x…`, and each `0x…..0x…` range expanded.
fn ids_in(cell: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    let words: Vec<&str> = cell.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.')).collect();
    for w in words {
        let w = w.trim_end_matches('.');
        match w.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (hex(a).expect(w), hex(b).expect(w));
                out.extend(a..=b);
            }
            None => out.extend(hex(w)),
        }
    }
    out
}

#[test]
fn discovery_rows_match_the_crate() {
    let doc = doc();
    let rows = table(&section(&doc, "## 5. Function IDs"), "|", &["ID", "Name", "Arguments", "Results", "Errors"]);
    let row = |name: &str| rows.iter().find(|r| r[1] == name).unwrap_or_else(|| panic!("no {name} row"));

    // HYP_FEATURES lists exactly what it answers 0 for.
    let results = &row("HYP_FEATURES")[3];
    let implemented: BTreeSet<u32> =
        RANGES.into_iter().flatten().filter(|&id| Features::for_hyp_call(id).is_supported()).collect();
    assert_eq!(ids_in(results), implemented, "HYP_FEATURES row: {results}");
    assert!(results.contains(&format!("In ABI {MAJOR}.{MINOR} ")), "HYP_FEATURES row names another revision");

    let results = &row("HYP_REVISION")[3];
    assert!(results.contains(&format!("w0 = {MAJOR} (major), w1 = {MINOR} (minor)")), "{results}");

    let v = Version::CURRENT;
    let version = format!("w0 = {:#x} ({}.{})", v.0, v.major(), v.minor());
    assert_eq!(v.0 as u64, ids::SMCCC_VERSION_1_2);
    assert!(row("SMCCC_VERSION")[3].contains(&version), "SMCCC_VERSION row: want {version}");
}

#[test]
fn error_table_matches_the_crate() {
    let doc = doc();
    let rows = table(&section(&doc, "## 6. Error codes"), "|", &["Code", "Name", "Meaning"]);
    let mut listed = BTreeSet::new();
    for row in &rows {
        let code: i64 = row[0].parse().unwrap_or_else(|_| panic!("error table: code {:?}", row[0]));
        let name = if code == 0 {
            assert_eq!(SUCCESS, 0);
            "SUCCESS".to_owned()
        } else {
            let error = SmcccError::from_register(code as u64).unwrap_or_else(|| panic!("{code} is no error"));
            assert!(!matches!(error, SmcccError::Unknown(_)), "{} ({code}) is not defined by smc-interface", row[1]);
            error_name(error)
        };
        assert_eq!(row[1], name, "error table: code {code}");
        assert!(listed.insert(code), "error table: {code} twice");
    }
    for code in -64..=0 {
        let defined = code == 0 || !matches!(SmcccError::from_register(code as u64), Some(SmcccError::Unknown(_)));
        assert_eq!(listed.contains(&code), defined, "error table and smc-interface disagree on {code}");
    }
}

/// The name `Display` gives an error, without its code.
fn error_name(error: SmcccError) -> String {
    let shown = error.to_string();
    shown.split(" (").next().unwrap().to_owned()
}

/// The identifier that ends just before `end` in `text`, with one backtick and spaces skipped.
fn name_before(text: &str, end: usize) -> &str {
    let before = text[..end].trim_end().strip_suffix('`').unwrap_or(text[..end].trim_end());
    let start = before.rfind(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')).map_or(0, |i| i + 1);
    &before[start..]
}

#[test]
fn names_with_ids_and_codes_in_the_prose_match_the_crate() {
    let doc = doc();
    // `NAME` (`0x…`) and NAME (`0x…`), e.g. in section 4 and the headings of section 9.
    let mut seen = 0;
    for (at, _) in doc.match_indices("(`0x") {
        let name = name_before(&doc, at);
        let value: String = doc[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if name.is_empty() {
            continue;
        }
        let id = call_id(name).unwrap_or_else(|| panic!("{name} (`{value}`) in docs/abi.md: no such call in smc-interface"));
        assert_eq!(hex(&value), Some(id), "{name} (`{value}`) in docs/abi.md");
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} `NAME (0x…)` in docs/abi.md");
    // NAME (-n), e.g. in the error tables of section 9. Only PSCI's codes that section 2 quotes
    // are not ours.
    let names: BTreeMap<String, i64> = (-64..0)
        .filter_map(|c| SmcccError::from_register(c as u64))
        .filter(|e| !matches!(e, SmcccError::Unknown(_)))
        .map(|e| (error_name(e), e.code()))
        .collect();
    let mut seen = 0;
    for (at, _) in doc.match_indices(" (-") {
        let name = name_before(&doc, at + 1);
        let code: String = doc[at + 2..].chars().take_while(|&c| c == '-' || c.is_ascii_digit()).collect();
        if name.is_empty() || ["ALREADY_ON", "INVALID_ADDRESS"].contains(&name) {
            continue;
        }
        let expected = names.get(name).unwrap_or_else(|| panic!("{name} ({code}) in docs/abi.md: no such error"));
        assert_eq!(code.parse::<i64>().ok(), Some(*expected), "{name} ({code}) in docs/abi.md");
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} `NAME (-n)` in docs/abi.md");
}

#[test]
fn vm_tables_match_the_crate() {
    let doc = doc();
    let vm_section = section(&doc, "## 10. ");
    assert!(vm_section[0].contains(&format!("({MAJOR}.{MINOR})")), "section 10's heading: {}", vm_section[0]);
    let rows = table(&vm_section, "|", &["ID", "Name", "Arguments", "Result", "Errors"]);
    let listed = check_id_table(&rows, "section 10");
    assert_eq!(listed.keys().copied().collect::<Vec<_>>(), vm::VM_CALLS, "section 10 lists the VM calls");

    // The exits: the code of each of them, and what the doc calls it.
    fn word(exit: &Exit) -> &'static str {
        match exit {
            Exit::Report(_) => "the guest called GUEST_REPORT",
            Exit::Done(_) => "the guest called GUEST_DONE",
            Exit::HostInterrupt => "a physical interrupt arrived",
            Exit::Stage2Fault { .. } => "outside its memory",
            Exit::Unexpected { .. } => "anything else",
        }
    }
    let exits = [
        Exit::Report([1, 2, 3]),
        Exit::Done(4),
        Exit::HostInterrupt,
        Exit::Stage2Fault { ipa: 5, esr: 6 },
        Exit::Unexpected { esr: 7, pc: 8 },
    ];
    let rows = table(&vm_section, "**Exits**", &["x1", "Exit", "x2, x3, x4"]);
    let documented: BTreeMap<u64, &Vec<String>> =
        rows.iter().map(|r| (r[0].parse().unwrap_or_else(|_| panic!("exit code {:?}", r[0])), r)).collect();
    assert_eq!(documented.len(), rows.len(), "an exit code twice");
    for exit in exits {
        let code = exit.encode()[1];
        let row = documented.get(&code).unwrap_or_else(|| panic!("no exit {code} ({exit:?})"));
        assert!(row[1].contains(word(&exit)), "exit {code} is {exit:?} in smc-interface, `{}` in the doc", row[1]);
    }
    for code in 0..=255 {
        let decodes = Exit::decode([0, code, 0, 0, 0]).is_ok();
        assert_eq!(documented.contains_key(&code), decodes, "exit table and smc-interface disagree on {code}");
    }
}

#[test]
fn uid_revision_and_example_match_the_crate() {
    let doc = doc();
    assert!(
        doc.contains(&format!("ABI revision described here: **{MAJOR}.{MINOR}**")),
        "the revision at the top of docs/abi.md"
    );

    let discovery = section(&doc, "## 4. Discovering");
    let rows = table(&discovery, "2. **Call UID.**", &["Register", "Value"]);
    let words: Vec<(String, Option<u32>)> = rows.iter().map(|r| (r[0].clone(), hex(&r[1]))).collect();
    let expected: Vec<(String, Option<u32>)> =
        ids::HYP_CALL_UID_WORDS.iter().enumerate().map(|(i, &w)| (format!("w{i}"), Some(w))).collect();
    assert_eq!(words, expected, "the Call UID table of section 4");
    let b = ids::HYP_CALL_UID_BYTES.map(|b| format!("{b:02x}")).concat();
    let uuid = format!("**`{}-{}-{}-{}-{}`**", &b[..8], &b[8..12], &b[12..16], &b[16..20], &b[20..]);
    assert!(discovery.iter().any(|l| l.contains(&uuid)), "section 4 does not give the UUID as {uuid}");
    let written_for = format!("a client written for {MAJOR}.{MINOR} must see exactly {MAJOR}.{MINOR}");
    assert!(
        MAJOR != 0 || discovery.join(" ").contains(&written_for),
        "section 4's revision rule: want `{written_for}`"
    );

    // The example's constants and its revision check.
    let example = section(&doc, "## 7. Example");
    let defines: BTreeMap<&str, u32> = example
        .iter()
        .filter_map(|l| l.strip_prefix("#define "))
        .map(|l| {
            let mut it = l.split_whitespace();
            let (name, value) = (it.next().unwrap(), it.next().unwrap());
            (name, hex(value.strip_suffix('U').unwrap_or(value)).unwrap_or_else(|| panic!("#define {l}")))
        })
        .collect();
    let expected: BTreeMap<&str, u32> = [
        ("PMUP_HYP_FEATURES", ids::HYP_FEATURES),
        ("PMUP_HYP_CALL_UID", ids::HYP_CALL_UID),
        ("PMUP_HYP_REVISION", ids::HYP_REVISION),
        ("PMUP_UID_W0", ids::HYP_CALL_UID_WORDS[0]),
        ("PMUP_UID_W1", ids::HYP_CALL_UID_WORDS[1]),
        ("PMUP_UID_W2", ids::HYP_CALL_UID_WORDS[2]),
        ("PMUP_UID_W3", ids::HYP_CALL_UID_WORDS[3]),
    ]
    .into();
    assert_eq!(defines, expected, "section 7's #defines");
    let check = format!("if (res.a0 != {MAJOR} || res.a1 != {MINOR})");
    let after_revision = example.iter().skip_while(|l| !l.contains("invoke(PMUP_HYP_REVISION")).nth(1);
    assert!(
        after_revision.is_some_and(|l| l.contains(&check)),
        "section 7 checks the revision with {after_revision:?}, want `{check}`"
    );
}
