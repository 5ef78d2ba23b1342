//! The longer `--help` texts: examples for the whole command line, and the sample format that
//! `grade` reads. Kept apart from the argument definitions so that those stay readable.

/// After `verifier --help`.
pub const EXAMPLES: &str = "\
Examples:
  verifier serve --addr 0.0.0.0:8080 --auth-token-file /run/secrets/token
  verifier grade samples.jsonl -o results.jsonl
  echo '{\"completion\": \"... \\\\boxed{2}\", \"task\": {\"kind\": \"math\", \"answer\": \"2\"}}' | verifier grade
  verifier eval --dataset humaneval --samples samples.jsonl --k 1,10
  echo 'print(1 + 1)' | verifier exec --language python
  verifier graders
  verifier completions bash > /etc/bash_completion.d/verifier

The HTTP API is described by the running service at GET /openapi.json.";

/// After `verifier serve --help`.
pub const SERVE_EXAMPLES: &str = "\
Examples:
  verifier serve                                   # http://127.0.0.1:8080
  verifier serve --addr 0.0.0.0:8080 --jobs 8 --log-format json
  verifier serve --auth-token-file token.txt       # then: curl -H \"Authorization: Bearer $(cat token.txt)\" ...

Routes: POST /v1/grade, GET /v1/graders, GET /healthz, GET /metrics, GET /openapi.json.";

/// After `verifier grade --help`: what one input line is.
pub const SAMPLE_FORMAT: &str = "\
Input: one JSON sample per line:
  {\"id\": \"q1-s0\",                               (optional, echoed back)
   \"completion\": \"<think>...</think> The answer is $\\\\boxed{2}$.\",
   \"task\": {\"kind\": \"math\", \"answer\": \"2\"},    (what correct means; see below)
   \"weight\": 1.0,                                 (optional, of `task` in the total)
   \"components\": [{\"name\": \"format\", \"weight\": 0.5,
                   \"task\": {\"kind\": \"format\", \"style\": \"r1\"}}],   (optional)
   \"group_id\": \"q1\",                             (optional; GRPO group, for group shaping)
   \"limits\": {\"timeout_ms\": 5000}}               (optional; a code task's tests need
                                                  more than one test's budget, 9 s by default:
                                                  with less, a candidate that loops ends as
                                                  `timeout`, which trainers drop, not `incorrect`)

Task kinds: math (answer, options), code (language, tests, ...), format (style),
instructions (instruction_id_list, kwargs), language_consistency, length, repetition.
`verifier graders` lists them; the service's GET /openapi.json has every field.

Output: one result per line, in input order:
  {\"id\": \"q1-s0\", \"reward\": 1.5, \"status\": \"correct\", \"components\": [...], \"details\": {...}, \"elapsed_us\": 41}
status is correct, partial, incorrect, no_answer, timeout or error (error and timeout carry
an `error` message). A bad line becomes an `error` result naming the line and field.

Examples:
  verifier grade samples.jsonl -o results.jsonl
  cat samples.jsonl | verifier grade --jobs 4 > results.jsonl";
