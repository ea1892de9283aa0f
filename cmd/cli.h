/* cli.h - shared command-line plumbing for the llm-* commands.
 *
 * Lives in cmd/, not lib/: it prints and exits, which the library never
 * does.  One static option table per command drives parsing, --help, and
 * --list-options (one long option per line, used by the tests to check that
 * man pages and completions name every option).
 *
 * Conventions: stdout for results, stderr for "llm-x: what is wrong";
 * exit 0 success, 1 failure, 2 usage.  SIGPIPE ends the command quietly.
 */
#ifndef LLM_CLI_H
#define LLM_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "io.h"

struct cli_opt {
	const char *lng;  /* long name without "--" */
	int shrt;         /* short letter, or 0 */
	const char *arg;  /* argument name ("TYPE"), or NULL for a flag */
	const char *help; /* one line */
	int id;           /* what cli_next returns for -s and --long alike: the letter or a value >= 256 */
};

struct cli_cmd {
	const char *name;     /* "llm-quant" */
	const char *synopsis; /* "[options] INPUT" */
	const char *summary;  /* one or more lines after the synopsis */
	const struct cli_opt *opts; /* terminated by an entry with lng == NULL */
};

/* Call first: remembers the command for messages, restores SIGPIPE's default. */
void cli_init(const struct cli_cmd *cmd, int argc, char **argv);
/* Next option: its id, with *arg set for options that take one; -1 when
 * options end (then argv[cli_optind()] is the first operand).  Handles
 * -h/--help (usage to stdout, exit 0), --version (exit 0), --list-options
 * (exit 0) and unknown options or missing arguments (exit 2). */
int cli_next(const char **arg);
int cli_optind(void);

void cli_help(FILE *f);
_Noreturn void cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* llm_lora_parse_spec of "PATH[:SCALE]": a bad scale is a usage error. */
void cli_lora_spec(const char *spec, char **path, float *scale);
/* Write s to f with control bytes (below 0x20, and 0x7f) as \xNN, so that
 * text read from a file (a key, a tensor name, a path) can neither split a
 * line nor send the terminal an escape sequence; returns the bytes written.
 * Every message of cli_die, cli_usage and cli_warn goes through it. */
int cli_put_safe(FILE *f, const char *s);
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "llm-x: <llm_errmsg()>" and exit 1. */
_Noreturn void cli_die_lib(void);
/* The same line without exiting, for a command that goes on with its next
 * input (and exits 1 at the end). */
void cli_error_lib(void);
/* Warning on stderr ("llm-x: ..."), unless quiet. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int cli_quiet;
const char *cli_name(void);
/* The argument vector as cli_init received it (argc entries and a NULL),
 * before option parsing permuted it: what a provenance record keeps. */
char *const *cli_args(void);

/* Argument parsing: usage error (exit 2) naming the option when s is not a
 * number in [min, max]. */
long long cli_int(const char *opt, const char *s, long long min, long long max);
double cli_double(const char *opt, const char *s, double min, double max);
/* Sizes with optional K/M/G/T suffix: powers of 1024 for KiB..., of 1000
 * for KB..., of unit (1024 or 1000) for a bare K, M, G, T.  Memory sizes
 * take 1024, as dd and sort -S do; --split-max-size takes 1000, as
 * llama.cpp's gguf-split reads its 500M and 2G. */
uint64_t cli_size(const char *opt, const char *s, unsigned unit);

/* Remove unfinished atomic outputs (llm_out temporaries) when SIGINT,
 * SIGTERM or SIGHUP ends the command, then die of that signal. */
void cli_cleanup_on_signals(void);
/* Library callbacks (ud unused): progress bar and notices on stderr. */
void cli_progress_cb(void *ud, const char *name, uint64_t done, uint64_t total);
void cli_notice_cb(void *ud, const char *msg);

/* A report (--report FILE, "-": stdout): opened before the work, so that
 * a path that cannot be written fails before any output exists
 * (cli_report_open, exit 1 on failure); its malloc'ed text (NULL: out of
 * memory) written and synced, and freed, from the library's finish
 * callback, before the output is put in place (cli_report_put: 0, or the
 * error for the library, which then gives its output up); once the output
 * is in place, the report too (cli_report_commit, exit 1 on failure;
 * cli_die removes unfinished temporaries). */
void cli_report_open(struct llm_out *o, const char *path);
int cli_report_put(struct llm_out *o, char *text, size_t len);
void cli_report_commit(struct llm_out *o);
/* "-" when output path names the regular file or pipe standard output is
 * (/dev/stdout, /proc/self/fd/1, the file stdout is redirected to:
 * llm_path_is_fd), so that the checks below see stdout; else path. */
const char *cli_output_name(const char *path);
/* The checks of -o OUT (NULL: stdout) beside --report REPORT, before any
 * work (usage errors): two files, and the report not on stdout when the
 * GGUF is. */
void cli_check_report(const char *out, const char *report);
/* Usage error when path (the value of option opt; "-" stdout) names one
 * of the n inputs (NULL entries skipped; "-" stdin), as cat refuses
 * `cat f >> f`: for inputs read alone, as a prompt. */
void cli_refuse_same(const char *opt, const char *path, const char *const *inputs, int n);
/* The same, and also when path names a file one of them reads besides
 * itself (a shard of its split set, a file of its Hugging Face or PEFT
 * directory): a report or a KV dump must never replace a model. */
void cli_refuse_input(const char *opt, const char *path, const char *const *inputs, int n);
/* The same for -o OUT (NULL: stdout), which may replace self, the input
 * it is a new version of (llm-quant's INPUT, llm-lora-merge's BASE),
 * atomically as sort -o does (but not through stdout, which would change
 * it as it is read), nor any file self reads besides itself (with one_shard,
 * llm-quant --shard, self is read alone), nor any of the n others
 * (adapters, tokenizers, the models llm-svd-delta compares). */
void cli_refuse_output(const char *out, const char *self, int one_shard, const char *const *others, int n);
/* Whether path's name is a shard's (PREFIX-NNNNN-of-MMMMM.gguf[.zst], as
 * llm_shard_name_parse reads it); tag gets "-NNNNN-of-MMMMM". */
int cli_shard_tag(const char *path, char tag[16]);

/* A report's text, grown as it is written (s NULL after an allocation
 * failure, and later appends do nothing). */
struct cli_text {
	char *s;
	size_t len, cap;
	int oom;
};
void cli_text_printf(struct cli_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a TSV field: control bytes (a tab, a newline) as \xNN (cli_put_safe) */
void cli_text_field(struct cli_text *t, const char *s);
/* The text for cli_report_put (NULL after an allocation failure). */
char *cli_text_take(struct cli_text *t, size_t *len);

/* Flush stdout; exit 1 ("write error on stdout: ...") if anything written
 * to it failed. */
void cli_flush_stdout(void);

/* s[0..len) as a JSON string (jansson's json_t): JSON text is Unicode,
 * so each byte that is not part of well-formed UTF-8 (a damaged file's
 * key or name, a path in another encoding) becomes U+FFFD, as Python's
 * errors="replace" does; NUL stays (written \u0000).  NULL when out of
 * memory. */
struct json_t *cli_json_str(const char *s, size_t len);

/* Default thread count: online CPUs. */
int cli_nproc(void);

/* Exit 1 with a message when binary output would go to a terminal
 * (path NULL or "-" meaning stdout, or a terminal device by name); a
 * usage error when path names the file or pipe stderr is open on. */
void cli_refuse_tty(const char *path);
/* Exit 1 now, with the writer's message, when an output file could not be
 * written at the end (a missing or read-only directory, a directory named
 * as the file): the writer's temporary file is made beside path and
 * removed.  NULL, "-" and paths of pipes or devices are not probed.  Call
 * after cli_cleanup_on_signals, before the long work. */
void cli_probe_output(const char *path);
/* path (NULL: none) is read: when it is "-" and stdin has been claimed
 * already, a usage error "stdin (-) can be read only once" (: hint). */
void cli_stdin_claim(const char *path, const char *hint);

/* Progress bar on stderr: shown when enabled (default: stderr is a tty and
 * not quiet, once the work has lasted a second; --progress forces it from
 * the start). */
extern int cli_progress_enabled; /* -1 auto, 0 off, 1 on */
void cli_progress(const char *label, uint64_t done, uint64_t total);
void cli_progress_end(void);

#endif
