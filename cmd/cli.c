/* cli.c - see cli.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "gguf.h"
#include "io.h"
#include "lora.h"
#include "unicode.h"

int cli_quiet;
int cli_progress_enabled = -1;

static const struct cli_cmd *cmd;
static int g_argc;
static char **g_argv;
static char **g_args; /* argv as given: getopt permutes g_argv */
static struct option *longopts;
static char shortopts[256];

enum { OPT_HELP = 0x10000, OPT_VERSION, OPT_LIST };

const char *cli_name(void) { return cmd ? cmd->name : "llm"; }

void cli_init(const struct cli_cmd *c, int argc, char **argv)
{
	size_t n = 0, k = 0;
	const struct cli_opt *o;

	cmd = c;
	/* A closed stdin, stdout or stderr would be the next file opened (an
	 * output's temporary, which --report - would then write into): each
	 * becomes /dev/null opened the wrong way, so that using it fails with
	 * EBADF, as gnulib's stdopen does. */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) != fd)
			exit(1);
	g_argc = argc;
	g_argv = argv;
	if (!(g_args = malloc(((size_t)argc + 1) * sizeof *g_args)))
		cli_die("out of memory");
	memcpy(g_args, argv, ((size_t)argc + 1) * sizeof *g_args);
	signal(SIGPIPE, SIG_DFL);
	for (o = c->opts; o && o->lng; o++)
		n++;
	/* --zstd=LEVEL spells --zstd-level LEVEL for the commands that take
	 * both (the table has no optional arguments; llm-kvstat's
	 * --zstd-level is no output's); cli_args keeps it as given */
	int zstd = 0;
	for (o = c->opts; o && o->lng; o++)
		zstd += strcmp(o->lng, "zstd") == 0 || strcmp(o->lng, "zstd-level") == 0;
	for (int i = 1; zstd == 2 && i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strncmp(argv[i], "--zstd=", 7) == 0) {
			char *a = malloc(strlen(argv[i]) + 7);
			if (!a)
				cli_die("out of memory");
			sprintf(a, "--zstd-level=%s", argv[i] + 7);
			argv[i] = a; /* lives as long as the process */
		}
	longopts = calloc(n + 4, sizeof *longopts);
	if (!longopts)
		cli_die("out of memory");
	shortopts[k++] = ':';
	shortopts[k++] = 'h';
	for (o = c->opts, n = 0; o && o->lng; o++, n++) {
		longopts[n].name = o->lng;
		longopts[n].has_arg = o->arg ? required_argument : no_argument;
		longopts[n].val = o->id;
		if (o->shrt && k + 3 < sizeof shortopts) {
			shortopts[k++] = (char)o->shrt;
			if (o->arg)
				shortopts[k++] = ':';
		}
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	longopts[n++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	longopts[n++] = (struct option){ "list-options", no_argument, NULL, OPT_LIST };
	shortopts[k] = 0;
	opterr = 0;
}

char *const *cli_args(void) { return g_args; }

void cli_help(FILE *f)
{
	const struct cli_opt *o;

	fprintf(f, "Usage: %s %s\n", cmd->name, cmd->synopsis);
	if (cmd->summary)
		fprintf(f, "%s\n", cmd->summary);
	fprintf(f, "\nOptions:\n");
	for (o = cmd->opts; o && o->lng; o++) {
		char left[64];
		if (o->shrt)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->shrt, o->lng,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->lng,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
	}
	fprintf(f, "  %-28s %s\n", "-h, --help", "show this help and exit");
	fprintf(f, "  %-28s %s\n", "    --version", "show the version and exit");
	fprintf(f, "  %-28s %s\n", "    --list-options", "print the long options, one a line (for completions)");
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error. See %s(1).\n", cmd->name);
}

void cli_flush_stdout(void)
{
	if (fflush(stdout) || ferror(stdout))
		cli_die("write error on stdout: %s", strerror(errno));
}

/* exit 0 once what --help and the like printed is out, else 1 */
static _Noreturn void exit_written(void)
{
	cli_flush_stdout();
	exit(0);
}

int cli_next(const char **arg)
{
	int c;

	for (;;) {
		int li = -1, before = optind;
		c = getopt_long(g_argc, g_argv, shortopts, longopts, &li);
		/* the argument at fault: inside a cluster of short options
		 * (-qZx) optind stays on it until its last letter */
		const char *a = optind == before && optind < g_argc ? g_argv[optind] : g_argv[optind - 1];
		int is_long = strncmp(a, "--", 2) == 0;
		if (c == -1)
			return -1;
		*arg = optarg;
		switch (c) {
		case 'h':
		case OPT_HELP:
			cli_help(stdout);
			exit_written();
		case OPT_VERSION:
			printf("%s %s (%s)\n", cmd->name, LLM_VERSION, LLM_GIT_REV);
			exit_written();
		case OPT_LIST: {
			const struct cli_opt *o;
			for (o = cmd->opts; o && o->lng; o++)
				printf("--%s\n", o->lng);
			printf("--help\n--version\n--list-options\n");
			exit_written();
		}
		case ':':
			if (!is_long)
				cli_usage("option '-%c' needs an argument", optopt);
			cli_usage("option '%s' needs an argument", a);
		case '?': {
			if (!is_long) /* -x: getopt puts the letter in optopt */
				cli_usage("unknown option '-%c'", optopt);
			size_t n = strcspn(a + 2, "=");
			if (optopt) /* a known long option given "=ARG" it does not take */
				cli_usage("option '--%.*s' does not take an argument", (int)n, a + 2);
			int hits = 0; /* --help, --version and --list-options too */
			for (const struct option *o = longopts; o->name; o++)
				hits += strncmp(o->name, a + 2, n) == 0;
			if (hits > 1)
				cli_usage("option '--%.*s' is ambiguous (%d options start so)", (int)n, a + 2, hits);
			cli_usage("unknown option '%s'", a);
		}
		default:
			/* getopt gives the letter of a short option: the option's
			 * id, which the command's switch knows, may differ */
			if (c < 256)
				for (const struct cli_opt *o = cmd->opts; o && o->lng; o++)
					if (o->shrt == c)
						return o->id;
			return c;
		}
	}
}

int cli_optind(void) { return optind; }

int cli_put_safe(FILE *f, const char *s)
{
	char buf[512], *p = buf;
	size_t n = llm_escape_controls(buf, sizeof buf, s);
	if (n >= sizeof buf && (p = malloc(n + 1)))
		llm_escape_controls(p, n + 1, s);
	else if (!p)
		p = buf; /* no memory for the rest: cut short */
	fputs(p, f);
	int w = (int)strlen(p);
	if (p != buf)
		free(p);
	return w;
}

/* "NAME: message" and tail on one line of stderr, whatever the message
 * quotes (cli_put_safe) */
static void vmsg_tail(const char *fmt, va_list ap, const char *tail)
{
	char buf[1024], *p = llm_vformat(buf, sizeof buf, fmt, ap);
	fflush(stdout);
	fprintf(stderr, "%s: ", cli_name());
	cli_put_safe(stderr, p ? p : fmt);
	fprintf(stderr, "%s\n", tail);
	if (p != buf)
		free(p);
}
static void vmsg(const char *fmt, va_list ap) { vmsg_tail(fmt, ap, ""); }
static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void cli_usage(const char *fmt, ...)
{
	va_list ap;
	char tail[96];
	cli_progress_end();
	/* one line, as every error: GNU's "Try ... --help" as its end */
	snprintf(tail, sizeof tail, " (try '%s --help')", cli_name());
	va_start(ap, fmt);
	vmsg_tail(fmt, ap, tail);
	va_end(ap);
	exit(2);
}

void cli_die(const char *fmt, ...)
{
	va_list ap;
	cli_progress_end();
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	llm_out_cleanup_signal(); /* no unfinished output left behind */
	exit(1);
}

void cli_die_lib(void) { cli_die("%s", llm_errmsg()); }

void cli_lora_spec(const char *spec, char **path, float *scale)
{
	int rc = llm_lora_parse_spec(spec, path, scale);
	if (rc == LLM_EINVAL) /* a scale that is no finite float: the user's spelling */
		cli_usage("%s", llm_errmsg());
	if (rc)
		cli_die_lib();
}

void cli_error_lib(void)
{
	cli_progress_end();
	msg("%s", llm_errmsg());
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	if (cli_quiet)
		return;
	cli_progress_end();
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

long long cli_int(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || isspace((unsigned char)*s) || v < min || v > max)
		cli_usage("%s: '%s' is not an integer in [%lld, %lld]", opt, s, min, max);
	return v;
}

double cli_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* decimal only: strtod would also take 0x1p-1 */
	if (errno || end == s || *end || isspace((unsigned char)*s) || strpbrk(s, "xX") || !(v >= min && v <= max))
		cli_usage("%s: '%s' is not a number in [%g, %g]", opt, s, min, max);
	return v;
}

uint64_t cli_size(const char *opt, const char *s, unsigned unit)
{
	char *end;
	double v, mul = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || isspace((unsigned char)*s) || strpbrk(s, "xX") || !(v >= 0))
		cli_usage("%s: '%s' is not a size", opt, s);
	if (*end) {
		/* a unit letter right after the number: no blank, no NUL (which
		 * strchr would find in "KMGT") */
		const char *u = "KMGT", *p = isalpha((unsigned char)end[0]) ? strchr(u, end[0] & ~0x20) : NULL;
		int k;
		if (!p)
			cli_usage("%s: '%s' is not a size (units K, M, G, T)", opt, s);
		for (k = 0; k <= p - u; k++)
			mul *= (end[1] == 'B' || end[1] == 'b') ? 1000 : unit;
		if (end[1] && strcasecmp(end + 1, "B") && strcasecmp(end + 1, "iB"))
			cli_usage("%s: '%s' is not a size (units K, M, G, T)", opt, s);
		if (strcasecmp(end + 1, "iB") == 0)
			mul = pow(1024, (double)(p - u + 1));
	}
	if (v * mul >= 1.8e19)
		cli_usage("%s: '%s' is too large", opt, s);
	if (v * mul < 1)
		cli_usage("%s: '%s' is not a size of a byte or more", opt, s);
	return (uint64_t)(v * mul);
}

int cli_nproc(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void cli_refuse_tty(const char *path)
{
	struct stat st;
	int tty = 0;
	if (!path || strcmp(path, "-") == 0) {
		tty = isatty(STDOUT_FILENO);
	} else if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) { /* /dev/tty, /dev/pts/N */
		int fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		tty = fd >= 0 && isatty(fd);
		if (fd >= 0)
			close(fd);
	}
	if (tty)
		cli_die("refusing to write binary output to a terminal (use -o FILE or a pipe)");
	/* a GGUF written through stderr would take the notices in with it */
	if (path && llm_path_is_fd(path, STDERR_FILENO))
		cli_usage("%s names standard error, where messages go: binary output would take them in", path);
}

void cli_probe_output(const char *path)
{
	struct stat st;
	struct llm_out probe;
	if (path && !*path)
		cli_usage("an empty output file name");
	/* a pipe or device would see the probe's open and close: left alone */
	if (!path || strcmp(path, "-") == 0 || (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)))
		return;
	if (llm_out_open(&probe, path))
		cli_die_lib();
	llm_out_abort(&probe);
}

static int progress_shown, progress_len;
static double progress_t0 = -1;

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress(const char *label, uint64_t done, uint64_t total)
{
	int on = cli_progress_enabled;
	int width = 30, fill;
	if (on < 0)
		on = !cli_quiet && isatty(STDERR_FILENO);
	if (!on || total == 0)
		return;
	/* on a terminal by default, only for work that lasts (as git waits
	 * before its progress): a bar is not left behind by a 20 ms job */
	if (progress_t0 < 0)
		progress_t0 = mono_now();
	if (cli_progress_enabled < 0 && !progress_shown && mono_now() - progress_t0 < 1.0)
		return;
	fill = (int)((double)done / (double)total * width);
	if (fill > width)
		fill = width;
	int n = fprintf(stderr, "\r%s: [%.*s%*s] %3d%% ", cli_name(), fill,
			"##############################", width - fill, "",
			(int)(100.0 * (double)done / (double)total));
	n += cli_put_safe(stderr, label ? label : ""); /* often a tensor name */
	/* blanks over what a longer line left, not an escape sequence a
	 * dumb terminal would print */
	if (n < progress_len)
		fprintf(stderr, "%*s", progress_len - n, "");
	progress_len = n;
	progress_shown = 1;
}

void cli_progress_end(void)
{
	if (progress_shown) {
		fputc('\n', stderr);
		progress_shown = 0;
		progress_len = 0;
	}
}

static void on_signal(int sig)
{
	llm_out_cleanup_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_cleanup_on_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	/* a reader of --report - that goes away ends the command as quietly
	 * (status 141), but not before the temporary output is removed */
	signal(SIGPIPE, on_signal);
}

void cli_progress_cb(void *ud, const char *name, uint64_t done, uint64_t total)
{
	(void)ud;
	cli_progress(name, done, total);
}

void cli_notice_cb(void *ud, const char *msg)
{
	(void)ud;
	cli_warn("%s", msg);
}

void cli_stdin_claim(const char *path, const char *hint)
{
	static int claims;
	if (path && strcmp(path, "-") == 0 && claims++)
		cli_usage("stdin (-) can be read only once%s%s", hint ? ": " : "", hint ? hint : "");
}

void cli_report_open(struct llm_out *o, const char *path)
{
	if (llm_out_open(o, path))
		cli_die_lib();
}

/* dir(p)'s real path, "/" and p's last name (malloc'ed), or NULL */
static char *canonical(const char *p)
{
	const char *slash = strrchr(p, '/');
	char *dir = slash ? strndup(p, slash == p ? 1 : (size_t)(slash - p)) : strdup(".");
	char *rd = dir ? realpath(dir, NULL) : NULL, *out = NULL;
	const char *base = slash ? slash + 1 : p;
	if (rd && (out = malloc(strlen(rd) + strlen(base) + 2)))
		sprintf(out, "%s/%s", rd, base);
	free(dir);
	free(rd);
	return out;
}

/* stat of path, or of descriptor fd when path is "-" */
static int stat_or_fd(const char *path, int fd, struct stat *st)
{
	return strcmp(path, "-") == 0 ? fstat(fd, st) : stat(path, st);
}

/* Whether a and b name one file, "-" being descriptor fa for a and fb
 * for b: the same inode (a descriptor only when it is a regular file:
 * a terminal is both stdin and stdout), else for two names that do not
 * both exist, the same name in the same directory. */
static int same_named(const char *a, int fa, const char *b, int fb)
{
	struct stat sa, sb;
	if (!a || !b)
		return 0;
	int da = strcmp(a, "-") == 0, db = strcmp(b, "-") == 0;
	if (da && db && fa == fb)
		return 1;
	if (stat_or_fd(a, fa, &sa) == 0 && stat_or_fd(b, fb, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && (!(da || db) || S_ISREG(sa.st_mode));
	if (da || db)
		return 0;
	char *ca = canonical(a), *cb = canonical(b);
	int same = ca && cb ? strcmp(ca, cb) == 0 : strcmp(a, b) == 0;
	free(ca);
	free(cb);
	return same;
}

const char *cli_output_name(const char *path) { return llm_path_is_fd(path, STDOUT_FILENO) ? "-" : path; }

void cli_check_report(const char *out, const char *report)
{
	if (report && strcmp(report, "-") == 0 && (!out || strcmp(out, "-") == 0))
		cli_usage("--report - needs -o FILE: stdout carries the GGUF");
	if (report && same_named(report, STDOUT_FILENO, out ? out : "-", STDOUT_FILENO))
		cli_usage("--report and --output name the same file");
}

/* Whether the directories of paths a and b (a itself when dir_a) are one. */
static int same_dir(const char *a, int dir_a, const char *b)
{
	char *da = strdup(a), *db = strdup(b);
	struct stat sa, sb;
	int same = da && db && stat(dir_a ? da : dirname(da), &sa) == 0 && stat(dirname(db), &sb) == 0 &&
		   sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	free(da);
	free(db);
	return same;
}

int cli_shard_tag(const char *path, char tag[16])
{
	size_t k = llm_shard_name_parse(path, NULL, NULL, NULL);
	if (!k)
		return 0;
	memcpy(tag, path + k, 15); /* "-NNNNN-of-MMMMM" */
	tag[15] = 0;
	return 1;
}

/* Whether the existing regular file path is one that input reads besides
 * input itself: another shard of its split GGUF set, or a .json,
 * .safetensors, .model or .bin file of the directory a Hugging Face or
 * PEFT input (the directory, or one of its .json, .safetensors or .model
 * files) or a tokenizer.json or tokenizer.model reads from. */
static int reads_beside(const char *input, const char *path, int one_shard)
{
	struct stat si, sp;
	if (!input || !strcmp(input, "-") || stat(path, &sp) != 0 || !S_ISREG(sp.st_mode) ||
	    stat(input, &si) != 0)
		return 0;
	const char *bi = strrchr(input, '/'), *bp = strrchr(path, '/');
	bi = bi ? bi + 1 : input, bp = bp ? bp + 1 : path;
	int ci, cp, zi, zp;
	size_t ki = llm_shard_name_parse(bi, NULL, &ci, &zi), kp = llm_shard_name_parse(bp, NULL, &cp, &zp);
	if (ki && !one_shard && kp == ki && !strncmp(bi, bp, ki) && ci == cp && zi == zp) /* the same set */
		return same_dir(input, 0, path);
	int dir = S_ISDIR(si.st_mode);
	if (!dir && !llm_ends_with(input, ".json") && !llm_ends_with(input, ".safetensors") && !llm_ends_with(input, ".model"))
		return 0;
	return (llm_ends_with(bp, ".json") || llm_ends_with(bp, ".safetensors") || llm_ends_with(bp, ".model") ||
		llm_ends_with(bp, ".bin")) && same_dir(input, dir, path);
}

void cli_refuse_same(const char *opt, const char *path, const char *const *inputs, int n)
{
	for (int i = 0; path && i < n; i++)
		if (same_named(path, STDOUT_FILENO, inputs[i], STDIN_FILENO)) {
			if (strcmp(path, "-") == 0)
				cli_usage("standard output%s%s is the input %s: it would be changed as it is read",
					  strcmp(opt, "-o") == 0 ? "" : " for ", strcmp(opt, "-o") == 0 ? "" : opt,
					  strcmp(inputs[i], "-") == 0 ? "(stdin)" : inputs[i]);
			cli_usage("%s %s names the input %s: it would replace it", opt, path,
				  strcmp(inputs[i], "-") == 0 ? "(stdin)" : inputs[i]);
		}
}

void cli_refuse_input(const char *opt, const char *path, const char *const *inputs, int n)
{
	cli_refuse_same(opt, path, inputs, n);
	for (int i = 0; path && i < n; i++)
		if (reads_beside(inputs[i], path, 0))
			cli_usage("%s %s names a file read with %s: it would replace it", opt, path, inputs[i]);
}

void cli_refuse_output(const char *out, const char *self, int one_shard, const char *const *others, int n)
{
	out = out ? out : "-";
	/* replacing self is atomic (a new file renamed over it); writing
	 * to the standard output that is self would change it as it is read */
	if (strcmp(out, "-") == 0)
		cli_refuse_same("-o", out, &self, 1);
	if (reads_beside(self, out, one_shard))
		cli_usage("-o %s names a file read with %s: it would replace it", out, self);
	cli_refuse_input("-o", out, others, n);
}

int cli_report_put(struct llm_out *o, char *text, size_t len)
{
	int rc = text ? llm_out_write(o, text, len) : llm_err(LLM_ENOMEM, "out of memory");
	if (!rc)
		rc = llm_out_sync(o);
	free(text);
	return rc;
}

void cli_report_commit(struct llm_out *o)
{
	if (llm_out_commit(o))
		cli_die_lib();
}

/* Room for n more bytes and a NUL; 0 when there is none. */
static int text_room(struct cli_text *t, size_t n)
{
	if (t->oom)
		return 0;
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *p = realloc(t->s, cap);
		if (!p) {
			free(t->s);
			*t = (struct cli_text){ NULL, 0, 0, 1 };
			return 0;
		}
		t->s = p, t->cap = cap;
	}
	return 1;
}

void cli_text_printf(struct cli_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !text_room(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

void cli_text_field(struct cli_text *t, const char *s)
{
	size_t n = llm_escape_controls(NULL, 0, s);
	if (!text_room(t, n))
		return;
	llm_escape_controls(t->s + t->len, n + 1, s);
	t->len += n;
}

char *cli_text_take(struct cli_text *t, size_t *len)
{
	char *s = t->oom ? NULL : t->s ? t->s : strdup("");
	*len = s ? t->len : 0;
	*t = (struct cli_text){ NULL, 0, 0, 0 };
	return s;
}

json_t *cli_json_str(const char *s, size_t len)
{
	size_t i, o = 0;
	uint32_t cp;
	if (llm_utf8_valid_len(s, len) == len) /* well-formed as it is: no copy */
		return json_stringn_nocheck(s, len);
	char *t = malloc(3 * len + 1); /* a byte becomes at most 3 (U+FFFD) */
	if (!t)
		return NULL;
	for (i = 0; i < len;) {
		size_t k = llm_utf8_decode(s + i, len - i, &cp);
		if (k) {
			memcpy(t + o, s + i, k), o += k, i += k;
		} else {
			o += llm_utf8_encode(t + o, 0xFFFD), i++;
		}
	}
	json_t *j = json_stringn_nocheck(t, o);
	free(t);
	return j;
}
