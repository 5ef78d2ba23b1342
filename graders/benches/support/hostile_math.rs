//! Hostile inputs of up to 1 MB for the math grader, shared by its bench (`benches/math.rs`,
//! worst time) and the adversarial test (`tests/tests/math_adversarial.rs`, time and peak
//! allocation), so both measure the same set.

/// `(name, text)`; each is graded as a completion and, in the test, as a gold answer too.
pub fn hostile_inputs() -> Vec<(&'static str, String)> {
    let tower = |n: usize| format!("\\boxed{{{}2{}}}", "2^{".repeat(n), "}".repeat(n));
    vec![
        ("9^9^9^9", r"\boxed{9^{9^{9^{9}}}}".to_string()),
        (
            "issue #65 tower",
            r"\boxed{\dfrac{5^{\left(5^{\left(5^{\left(5^5\right)}\right)} - 4\right)} - 5}{16}}"
                .to_string(),
        ),
        ("10,000-level tower", tower(10_000)),
        (
            "plain tower",
            format!("\\boxed{{{}2}}", "2^".repeat(10_000)),
        ),
        ("100k digits", format!("\\boxed{{{}}}", "7".repeat(100_000))),
        ("100k digits plain", "9".repeat(100_000)),
        (
            "deep parens",
            format!("\\boxed{{{}1{}}}", "(".repeat(50_000), ")".repeat(50_000)),
        ),
        ("1 MB of braces", "{".repeat(1 << 20)),
        ("1 MB of closing braces", "}".repeat(1 << 20)),
        ("1 MB of boxes", "\\boxed{".repeat((1 << 20) / 7)),
        ("1 MB of dollars", "$".repeat(1 << 20)),
        ("1 MB of \\(", "\\(".repeat(1 << 19)),
        ("1 MB of digits and commas", "1,".repeat(1 << 19)),
        ("1 MB of fracs", "\\frac{1}{".repeat((1 << 20) / 9)),
        ("factorial bomb", r"\boxed{100000!}".to_string()),
        (
            "many factorials",
            format!("\\boxed{{{}1}}", "3000!+".repeat(1000)),
        ),
        ("huge exponent", r"\boxed{2^{10^{100}}}".to_string()),
        (
            "binomial bomb",
            r"\boxed{\binom{10^{9}}{10^{8}}}".to_string(),
        ),
        (
            "nested sqrt",
            format!("\\boxed{{{}2{}}}", "\\sqrt{".repeat(5000), "}".repeat(5000)),
        ),
        ("unicode soup", "∞±√π°²³€∑∫≈≠≤≥".repeat(10_000)),
        (
            "think bomb",
            format!("<think>{}", "\\boxed{1}".repeat(100_000)),
        ),
        // Each opener finds the one far closer and is rejected for its newline: quadratic
        // without a remembered search.
        (
            "\\( and newline, then \\)",
            format!("{}\\)", "\\(\n".repeat(1 << 18)),
        ),
        // Anchored phrases that each look for their answer through the same megabyte.
        (
            "anchors before 1 MB of \\(",
            format!(
                "{}{}",
                "answer: \\( ".repeat(64),
                "\\(".repeat((1 << 19) - 512)
            ),
        ),
        (
            "anchors before 1 MB of x",
            format!(
                "{}{}",
                "final answer: ".repeat(64),
                "x".repeat((1 << 20) - 1024)
            ),
        ),
        (
            "anchors before 1 MB of numbers",
            format!("{}{}", "answer: ".repeat(64), "1 ".repeat((1 << 19) - 512)),
        ),
        ("1 MB of answer: 1", "answer: 1 ".repeat(100_000)),
        ("1 MB of final answer )", "final answer )".repeat(70_000)),
        ("1 MB of answer x", "answer x ".repeat(110_000)),
        // Hundreds of identical big boxes, grouped and deduplicated.
        (
            "256 boxes of 4 KB",
            format!("\\boxed{{{}}} ", "7".repeat(4000)).repeat(256),
        ),
        // Numbers with no byte that ends a number: one scan of everything.
        ("1 MB of 1 000", "1 000 ".repeat(170_000)),
        ("1 MB of 1+", "1+".repeat(1 << 19)),
        ("1 MB of $1$", "$1$ ".repeat(1 << 18)),
        ("1 MB of $ and newline", "$\n".repeat(1 << 19)),
        ("1 MB of backslashes", "\\".repeat(1 << 20)),
        // Shapes the bench measured first.
        ("1 MB of digits", "7".repeat(1 << 20)),
        (
            "1 MB tower",
            format!(
                "\\boxed{{{}2{}}}",
                "2^{".repeat(1 << 18),
                "}".repeat(1 << 18)
            ),
        ),
        ("1 MB of (", "(".repeat(1 << 20)),
        (
            "1 MB prose + box",
            format!("{} \\boxed{{42}}", "the answer is 7. ".repeat(60_000)),
        ),
        ("1 MB of 1 1 1", "1 ".repeat(1 << 19)),
        // Issue 13's readings: display blocks, concluding sentences, answers read for their
        // clauses, the notation it added.
        (
            "1 MB of \\begin{align*}",
            "\\begin{align*}".repeat((1 << 20) / 14),
        ),
        (
            "1 MB of closed align blocks",
            "\\begin{align*}x &= 1 \\\\ &= 2\\end{align*}".repeat((1 << 20) / 40),
        ),
        (
            "1 MB of concluding sentences",
            "So the minimum is 8, and this is achieved when $a=b=c$. ".repeat((1 << 20) / 56),
        ),
        (
            "1 MB of answer is, when",
            "the answer is 7, which is when x = 3 since y is 3 ".repeat((1 << 20) / 50),
        ),
        ("1 MB of So, So,", "So, ".repeat(1 << 18)),
        ("1 MB of is is", "is ".repeat((1 << 20) / 3)),
        ("1 MB of =", "= ".repeat(1 << 19)),
        ("1 MB of 0.(", "0.(".repeat((1 << 20) / 3)),
        ("1 MB of thin spaces", "1\\,000".repeat((1 << 20) / 7)),
        (
            "1 MB of 5!5!",
            format!("\\boxed{{{}}}", "5!".repeat(1 << 19)),
        ),
        (
            "1 MB of n(n+1)2",
            format!("\\boxed{{{}}}", "n(n+1)2".repeat((1 << 20) / 7)),
        ),
        // A 2×2 matrix times itself, nested 40 deep to the left: expanded symbolically, each
        // level doubles the entries (22 levels took 6 GB and aborted the process).
        ("matrix product nested 40 deep", {
            let matrix = "\\begin{pmatrix}1&1\\\\1&1\\end{pmatrix}";
            format!(
                "\\boxed{{{}{matrix}{}}}",
                "(".repeat(40),
                format!("){matrix}").repeat(40)
            )
        }),
        // Exact binomials of huge n: 3,000 big-number steps each (20-110 s unpaid for).
        (
            "binom of 10^18 choose 3000",
            "\\boxed{\\binom{10^{18}}{3000}}".to_string(),
        ),
        (
            "binom of 10^9 choose 3000, twice",
            "\\boxed{\\binom{10^{9}}{3000}+\\binom{10^{9}-1}{2999}}".to_string(),
        ),
        // Fractions of big powers: each reduction is a gcd of ~600 limbs (10 ms), which the
        // charge on results missed (red team: 2 s against a number, a timeout against a set).
        (
            "250 gcds of 600 limbs",
            format!(
                "\\boxed{{{}}}",
                vec![r"\frac{3^{10000}}{5^{10000}+1}"; 250].join("+")
            ),
        ),
        (
            "a relation of 200 such gcds",
            format!(
                "\\boxed{{x={}}}",
                vec![r"\frac{3^{10000}}{5^{10000}+1}"; 200].join("+")
            ),
        ),
        (
            "a set of 200 such gcds",
            format!(
                "\\boxed{{\\{{{}\\}}}}",
                (0..200)
                    .map(|k| format!(r"\frac{{3^{{10000}}}}{{5^{{10000}}+1}}+{k}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
        // Roots of big powers: each is found and checked by powers (0.4 ms), and was charged
        // for its result only (red team: 300 of them in a set ran a sample to its deadline).
        (
            "a set of 300 roots of big powers",
            format!(
                "\\boxed{{\\{{{}\\}}}}",
                (0..300)
                    .map(|k| format!(r"(3^{{{}}})^{{\frac{{1}}{{7}}}}", 20_000 + k))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
    ]
}
