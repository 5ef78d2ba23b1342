//! Strict and loose evaluation of a response against its instructions.
//!
//! Strict: `followed = response.strip() != "" and check(response)`. Loose: the same test on
//! eight variants of the response (it, it without `*`, without its first line, last line, or
//! both, and those three without `*`), passing if any passes. Each variant is checked at most
//! once: identical variants (a response without `*` or with one line) are skipped, which is
//! safe because every check is deterministic here (langdetect is seeded).

use super::pystr;
use super::spec::Instruction;

/// The reference's eight loose-mode variants, in its order.
pub fn loose_variants(response: &str) -> [String; 8] {
    let lines: Vec<&str> = response.split('\n').collect();
    let join = |lines: &[&str]| pystr::strip(&lines.join("\n")).to_string();
    let n = lines.len();
    let remove_first = join(&lines[1.min(n)..]);
    let remove_last = join(&lines[..n.saturating_sub(1)]);
    let remove_both = if n >= 2 {
        join(&lines[1..n - 1])
    } else {
        String::new()
    };
    let unstar = |s: &str| s.replace('*', "");
    [
        response.to_string(),
        unstar(response),
        unstar(&remove_first),
        unstar(&remove_last),
        unstar(&remove_both),
        remove_first,
        remove_last,
        remove_both,
    ]
}

/// Variants in the reference's order: [r, r-*, first, last, both, first-*, last-*, both-*].
/// (`loose_variants` builds them grouped for cheap reuse; this restores the order, which only
/// matters for short-circuiting, not for the verdict.)
fn ordered(variants: &[String; 8]) -> [&str; 8] {
    [
        &variants[0],
        &variants[1],
        &variants[5],
        &variants[6],
        &variants[7],
        &variants[2],
        &variants[3],
        &variants[4],
    ]
}

fn is_blank(text: &str) -> bool {
    pystr::strip(text).is_empty()
}

/// Strict verdicts, one per instruction.
pub fn strict(response: &str, instructions: &[Instruction]) -> Vec<bool> {
    strict_until(response, instructions, &|| false).expect("never stopped")
}

/// [`strict`], asking `stop` before each check; `None` once it says stop (the deadline).
pub fn strict_until(
    response: &str,
    instructions: &[Instruction],
    stop: &dyn Fn() -> bool,
) -> Option<Vec<bool>> {
    let blank = is_blank(response);
    instructions
        .iter()
        .map(|instruction| {
            if stop() {
                return None;
            }
            if blank {
                return Some(false);
            }
            instruction.check_until(response, stop)
        })
        .collect()
}

/// Loose verdicts, one per instruction.
pub fn loose(response: &str, instructions: &[Instruction]) -> Vec<bool> {
    both(response, instructions).1
}

/// [`loose`], asking `stop` before each check; `None` once it says stop.
pub fn loose_until(
    response: &str,
    instructions: &[Instruction],
    stop: &dyn Fn() -> bool,
) -> Option<Vec<bool>> {
    both_until(response, instructions, stop).map(|(_, loose)| loose)
}

/// Strict and loose verdicts together; loose reuses the strict check of the response itself.
pub fn both(response: &str, instructions: &[Instruction]) -> (Vec<bool>, Vec<bool>) {
    both_until(response, instructions, &|| false).expect("never stopped")
}

/// [`both`], asking `stop` before each check; `None` once it says stop.
pub fn both_until(
    response: &str,
    instructions: &[Instruction],
    stop: &dyn Fn() -> bool,
) -> Option<(Vec<bool>, Vec<bool>)> {
    let strict = strict_until(response, instructions, stop)?;
    if strict.iter().all(|&followed| followed) {
        return Some((strict.clone(), strict));
    }
    if stop() {
        return None;
    }
    let variants = loose_variants(response);
    let ordered = ordered(&variants);
    // Variant 0 is the response itself, already checked in strict mode.
    let mut distinct: Vec<&str> = Vec::with_capacity(7);
    for variant in &ordered[1..] {
        if !is_blank(variant) && *variant != ordered[0] && !distinct.contains(variant) {
            distinct.push(variant);
        }
    }
    let mut loose = Vec::with_capacity(instructions.len());
    for (instruction, &passed) in instructions.iter().zip(&strict) {
        let mut followed = passed;
        for variant in &distinct {
            if followed {
                break;
            }
            if stop() {
                return None;
            }
            followed = instruction.check_until(variant, stop)?;
        }
        loose.push(followed);
    }
    Some((strict, loose))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_follow_the_reference() {
        let v = loose_variants("Sure!\n**Title**\nbody\nBye");
        assert_eq!(v[0], "Sure!\n**Title**\nbody\nBye");
        assert_eq!(v[1], "Sure!\nTitle\nbody\nBye");
        assert_eq!(v[5], "**Title**\nbody\nBye");
        assert_eq!(v[6], "Sure!\n**Title**\nbody");
        assert_eq!(v[7], "**Title**\nbody");
        assert_eq!(v[2], "Title\nbody\nBye");
        let single = loose_variants("one line");
        assert_eq!(single[5], "");
        assert_eq!(single[6], "");
        assert_eq!(single[7], "");
    }
}
