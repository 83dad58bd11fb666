/*
 * driver.c - runs one oracle scenario through the real vm_pvn.c.
 *
 *   pvn_oracle [SCENARIO]      (stdin when no file is given)
 *
 * Reads the scenario (format: docs/oracle.md), builds the model state
 * without tracing, calls pvn_init() without tracing, then performs every
 * `call' line and prints the canonical dump after each one.  A call that
 * ends in WOULDBLOCK or PANIC is the last one run.
 *
 * Exit status: 0 after a complete run (WOULDBLOCK/PANIC included), 2 for a
 * malformed scenario, 3 for an internal error.
 */
#include "oracle.h"

/* ================================================================== */
/* Errors                                                              */
/* ================================================================== */

static int	cur_lineno;

static void __attribute__((noreturn, format(printf, 1, 2)))
scn_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pvn_oracle: scenario error");
	if (cur_lineno > 0)
		fprintf(stderr, " (line %d)", cur_lineno);
	fprintf(stderr, ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(2);
}

/* ================================================================== */
/* Scenario representation                                             */
/* ================================================================== */

#define	MAXTOK		64
#define	MAXLINE		4096
#define	MAXPAGES	4096
#define	MAXCALLS	1024
#define	MAXPLSZ		(1ULL << 32)	/* bytes of a pl array's pages */

struct line {
	int	lineno;
	int	ntok;
	char	*tok[MAXTOK];
	char	text[MAXLINE];		/* tokens joined by single spaces */
};

struct pagedef {
	int		vnode;
	u_offset_t	off;
	uint_t		nrm;
	int		ntrans;
	uchar_t		hw[ORACLE_MAXTRANS];
	int		lck, cow;
	int		cached;
	int		lock_excl;	/* ORACLE_NOBODY/_ME/_OTHER */
	int		rd_me, rd_other;
	int		io;
	int		ew;		/* SE_EWANTED: a thread wants it EXCL */
	int		lineno;
};

static struct {
	long		pagesize;
	long long	free, other, minfree, desfree, lotsfree, throttlefree;
	long long	pageout_reserve;
	long long	nofodklust, write_noklust, vmodsort_disable, wfree;
	long long	pbp, hat_vmodsort;
} K = { 4096, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200, 1 };

static struct pagedef	pdefs[MAXPAGES];
static int		npdefs;
static struct line	calls[MAXCALLS];
static int		ncalls;

/* ================================================================== */
/* Small parsers                                                       */
/* ================================================================== */

/*
 * Decimal or 0x-hex, optionally negative, as an unsigned 64-bit value (a
 * negative number is its two's complement, as a C cast gives it).  Values up
 * to 2^64 - 1 are accepted (offsets near the top of u_offset_t); more is an
 * error.  Returns 1 on success; *neg tells whether a minus sign was given.
 */
static int
parse_num(const char *s, unsigned long long *out, int *neg)
{
	unsigned long long v = 0;
	unsigned base = 10;
	const char *p = s;

	*neg = 0;
	if (*p == '-') {
		*neg = 1;
		p++;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	if (*p == '\0')
		return (0);
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return (0);
		if (v > (ULLONG_MAX - d) / base)
			return (0);		/* more than 64 bits */
		v = v * base + d;
	}
	if (*neg && v > (unsigned long long)LLONG_MAX + 1)
		return (0);			/* below INT64_MIN */
	*out = *neg ? 0 - v : v;
	return (1);
}

/*
 * A number of a scenario line, or exit with a scenario error.  Negative ones
 * (allowed only when `signed_ok') come back as their two's complement.
 */
static unsigned long long
number_or_die(const char *key, const char *s, int signed_ok)
{
	unsigned long long v;
	int neg;

	if (!parse_num(s, &v, &neg))
		scn_error("%s: bad number '%s' (64 bits at most)", key, s);
	if (neg && !signed_ok)
		scn_error("%s: must not be negative", key);
	return (v);
}

/* Any number (counts, deltas, flags written as numbers). */
static unsigned long long
num_or_die(const char *key, const char *s)
{
	return (number_or_die(key, s, 1));
}

/* A number that must not be negative (an offset, a length, an address). */
static unsigned long long
unum_or_die(const char *key, const char *s)
{
	return (number_or_die(key, s, 0));
}

/* C flag names joined by '|' (numbers allowed too), or 0. */
static unsigned long
flags_or_die(const char *key, const char *s,
    const struct oracle_flagname *tbl)
{
	unsigned long v = 0;
	char buf[MAXLINE], *save = NULL, *t;

	snprintf(buf, sizeof (buf), "%s", s);
	for (t = strtok_r(buf, "|", &save); t != NULL;
	    t = strtok_r(NULL, "|", &save)) {
		unsigned long long n;
		int i, found = 0, neg;

		if (parse_num(t, &n, &neg)) {
			v |= (unsigned long)n;
			continue;
		}
		for (i = 0; tbl[i].name != NULL; i++) {
			if (strcmp(tbl[i].name, t) == 0) {
				v |= tbl[i].value;
				found = 1;
				break;
			}
		}
		if (!found)
			scn_error("%s: unknown flag '%s'", key, t);
	}
	return (v);
}

static enum seg_rw
rw_or_die(const char *s)
{
	static const char *names[] = { "S_OTHER", "S_READ", "S_WRITE",
	    "S_EXEC", "S_CREATE", "S_READ_NOCOW" };
	unsigned i;

	for (i = 0; i < sizeof (names) / sizeof (names[0]); i++)
		if (strcmp(names[i], s) == 0)
			return ((enum seg_rw)i);
	scn_error("rw: unknown value '%s'", s);
}

static vtype_t
vtype_or_die(const char *s)
{
	static const char *names[] = { "VNON", "VREG", "VDIR", "VBLK",
	    "VCHR", "VLNK", "VFIFO", "VDOOR", "VPROC", "VSOCK", "VPORT",
	    "VBAD" };
	unsigned i;

	for (i = 0; i < sizeof (names) / sizeof (names[0]); i++)
		if (strcmp(names[i], s) == 0)
			return ((vtype_t)i);
	scn_error("type: unknown vnode type '%s'", s);
}

/* key=value attribute of a line; NULL when absent. */
static const char *
attr(struct line *ln, int first, const char *key)
{
	size_t kl = strlen(key);
	int i;

	for (i = first; i < ln->ntok; i++)
		if (strncmp(ln->tok[i], key, kl) == 0 && ln->tok[i][kl] == '=')
			return (ln->tok[i] + kl + 1);
	return (NULL);
}

/* Every token from `first' on must be key=value with a key in `allowed'. */
static void
check_keys(struct line *ln, int first, const char *const *allowed)
{
	int i, j;

	for (i = first; i < ln->ntok; i++) {
		char *eq = strchr(ln->tok[i], '=');
		size_t kl;
		int ok = 0;

		if (eq == NULL)
			scn_error("'%s': expected key=value", ln->tok[i]);
		kl = eq - ln->tok[i];
		for (j = 0; allowed[j] != NULL; j++)
			if (strlen(allowed[j]) == kl &&
			    strncmp(allowed[j], ln->tok[i], kl) == 0)
				ok = 1;
		if (!ok)
			scn_error("unknown attribute '%.*s'", (int)kl,
			    ln->tok[i]);
	}
}

static const char *
need(struct line *ln, int first, const char *key)
{
	const char *v = attr(ln, first, key);

	if (v == NULL)
		scn_error("%s: missing %s=", ln->tok[0], key);
	return (v);
}

static int
vnode_index(const char *name)
{
	int i;

	for (i = 0; i < oracle_nvnodes; i++)
		if (strcmp(oracle_vnodes[i].m_name, name) == 0)
			return (i);
	return (-1);
}

static struct seg *
seg_by_name(const char *name)
{
	int i;

	if (strcmp(name, "segkmap") == 0)
		return (segkmap);
	for (i = 0; i < oracle_nsegs; i++)
		if (strcmp(oracle_segs[i].m_name, name) == 0)
			return (&oracle_segs[i]);
	scn_error("unknown segment '%s'", name);
}

/* A comma-separated list of numbers. */
static int
num_list(const char *key, const char *s, unsigned long long *out, int max)
{
	char buf[MAXLINE], *save = NULL, *t;
	int n = 0;

	snprintf(buf, sizeof (buf), "%s", s);
	for (t = strtok_r(buf, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		if (n == max)
			scn_error("%s: too many values", key);
		out[n++] = num_or_die(key, t);
	}
	return (n);
}

/* ================================================================== */
/* Reading the scenario                                                */
/* ================================================================== */

static void
tokenize(char *buf, struct line *ln)
{
	char *p = buf, *hash;
	size_t n = 0;

	if ((hash = strchr(buf, '#')) != NULL)
		*hash = '\0';
	ln->ntok = 0;
	ln->text[0] = '\0';
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		if (ln->ntok == MAXTOK)
			scn_error("too many tokens");
		ln->tok[ln->ntok++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' &&
		    *p != '\n')
			p++;
		if (*p)
			*p++ = '\0';
	}
	for (int i = 0; i < ln->ntok; i++)
		n += snprintf(ln->text + n, sizeof (ln->text) - n, "%s%s",
		    i ? " " : "", ln->tok[i]);
}

static void
parse_kernel(struct line *ln)
{
	static const char *const keys[] = { "pagesize", "free", "other",
	    "minfree", "desfree", "lotsfree", "throttlefree",
	    "pageout_reserve", NULL };
	const char *v;

	check_keys(ln, 1, keys);
	if ((v = attr(ln, 1, "pagesize")) != NULL) {
		K.pagesize = num_or_die("pagesize", v);
		if (K.pagesize < 512 || (K.pagesize & (K.pagesize - 1)))
			scn_error("pagesize must be a power of two >= 512");
	}
#define	KNUM(name, field) \
	if ((v = attr(ln, 1, name)) != NULL) { \
		K.field = num_or_die(name, v); \
		if (K.field < 0) \
			scn_error("%s must not be negative", name); \
	}
	KNUM("free", free);
	KNUM("other", other);
	KNUM("minfree", minfree);
	KNUM("desfree", desfree);
	KNUM("lotsfree", lotsfree);
	KNUM("throttlefree", throttlefree);
	KNUM("pageout_reserve", pageout_reserve);
#undef KNUM
	if (K.free > 100000)
		scn_error("free: too many pages for the model");
}

static void
parse_tunable(struct line *ln)
{
	static const char *const keys[] = { "pvn_nofodklust",
	    "pvn_write_noklust", "pvn_vmodsort_disable", "write_free",
	    "pages_before_pager", "hat_vmodsort", "debug", NULL };
	const char *v;

	check_keys(ln, 1, keys);
	if ((v = attr(ln, 1, "pvn_nofodklust")) != NULL)
		K.nofodklust = num_or_die("pvn_nofodklust", v);
	if ((v = attr(ln, 1, "pvn_write_noklust")) != NULL)
		K.write_noklust = num_or_die("pvn_write_noklust", v);
	if ((v = attr(ln, 1, "pvn_vmodsort_disable")) != NULL)
		K.vmodsort_disable = num_or_die("pvn_vmodsort_disable", v);
	if ((v = attr(ln, 1, "write_free")) != NULL)
		K.wfree = num_or_die("write_free", v);
	if ((v = attr(ln, 1, "pages_before_pager")) != NULL)
		K.pbp = num_or_die("pages_before_pager", v);
	if ((v = attr(ln, 1, "hat_vmodsort")) != NULL)
		K.hat_vmodsort = num_or_die("hat_vmodsort", v);
}

static void
parse_vnode(struct line *ln)
{
	static const char *const keys[] = { "flags", "type", NULL };
	vnode_t *vp;
	const char *v;

	if (ln->ntok < 2 || strchr(ln->tok[1], '=') != NULL)
		scn_error("vnode: missing name");
	if (vnode_index(ln->tok[1]) >= 0)
		scn_error("vnode %s defined twice", ln->tok[1]);
	if (strlen(ln->tok[1]) >= sizeof (vp->m_name))
		scn_error("vnode name too long");
	if (oracle_nvnodes == ORACLE_MAXVNODES)
		scn_error("too many vnodes");
	check_keys(ln, 2, keys);
	vp = &oracle_vnodes[oracle_nvnodes];
	memset(vp, 0, sizeof (*vp));
	snprintf(vp->m_name, sizeof (vp->m_name), "%s", ln->tok[1]);
	vp->m_index = oracle_nvnodes;
	vp->v_type = VREG;
	vp->v_count = 1;
	if ((v = attr(ln, 2, "flags")) != NULL)
		vp->v_flag = (uint_t)flags_or_die("flags", v, oracle_v_flags);
	if ((v = attr(ln, 2, "type")) != NULL)
		vp->v_type = vtype_or_die(v);
	vp->v_lock.m_kind = ORACLE_MUTEX_V_LOCK;
	vp->v_lock.m_vp = vp;
	vp->m_vphm.m_kind = ORACLE_MUTEX_VPHM;
	vp->m_vphm.m_vp = vp;
	vp->v_cv.c_vp = vp;
	oracle_nvnodes++;
}

static void
parse_seg(struct line *ln)
{
	static const char *const keys[] = { "kind", "base", "size", "advice",
	    "deltas", NULL };
	struct seg *sp;
	const char *kind, *v;
	int i;

	if (ln->ntok < 2 || strchr(ln->tok[1], '=') != NULL)
		scn_error("seg: missing name");
	if (strcmp(ln->tok[1], "segkmap") == 0)
		scn_error("seg: the name segkmap is reserved");
	for (i = 0; i < oracle_nsegs; i++)
		if (strcmp(oracle_segs[i].m_name, ln->tok[1]) == 0)
			scn_error("seg %s defined twice", ln->tok[1]);
	if (oracle_nsegs == ORACLE_MAXSEGS)
		scn_error("too many segments");
	if (strlen(ln->tok[1]) >= sizeof (sp->m_name))
		scn_error("segment name too long");
	check_keys(ln, 2, keys);
	sp = &oracle_segs[oracle_nsegs];
	memset(sp, 0, sizeof (*sp));
	snprintf(sp->m_name, sizeof (sp->m_name), "%s", ln->tok[1]);
	kind = need(ln, 2, "kind");
	if (strcmp(kind, "segvn") == 0) {
		sp->m_kind = ORACLE_SEG_SEGVN;
		sp->s_base = (caddr_t)(uintptr_t)unum_or_die("base",
		    need(ln, 2, "base"));
		sp->s_size = (size_t)unum_or_die("size", need(ln, 2, "size"));
		v = attr(ln, 2, "advice");
		if (v == NULL || strcmp(v, "normal") == 0)
			sp->m_advice = ORACLE_ADV_NORMAL;
		else if (strcmp(v, "random") == 0)
			sp->m_advice = ORACLE_ADV_RANDOM;
		else if (strcmp(v, "sequential") == 0)
			sp->m_advice = ORACLE_ADV_SEQUENTIAL;
		else
			scn_error("advice: unknown value '%s'", v);
	} else if (strcmp(kind, "segmap") == 0) {
		sp->m_kind = ORACLE_SEG_SEGMAP;
	} else if (strcmp(kind, "refuse") == 0) {
		unsigned long long d[ORACLE_MAXDELTAS];

		sp->m_kind = ORACLE_SEG_REFUSE;
		if ((v = attr(ln, 2, "deltas")) != NULL) {
			sp->m_ndeltas = num_list("deltas", v, d,
			    ORACLE_MAXDELTAS);
			for (i = 0; i < sp->m_ndeltas; i++)
				sp->m_deltas[i] = (long)d[i];
		}
	} else {
		scn_error("seg: unknown kind '%s'", kind);
	}
	oracle_nsegs++;
}

static void
parse_page(struct line *ln)
{
	static const char *const keys[] = { "nrm", "map", "lck", "cow",
	    "free", "lock", "io", "ew", NULL };
	struct pagedef *pd;
	const char *v;
	unsigned long long off;
	int i;

	if (ln->ntok < 3)
		scn_error("page: expected VNODE OFFSET");
	if (npdefs == MAXPAGES)
		scn_error("too many pages");
	pd = &pdefs[npdefs];
	memset(pd, 0, sizeof (*pd));
	pd->lineno = ln->lineno;
	if ((pd->vnode = vnode_index(ln->tok[1])) < 0)
		scn_error("page: unknown vnode '%s'", ln->tok[1]);
	off = unum_or_die("offset", ln->tok[2]);
	if ((off & (K.pagesize - 1)) != 0)
		scn_error("page: offset %s is not a page-aligned offset",
		    ln->tok[2]);
	pd->off = (u_offset_t)off;
	for (i = 0; i < npdefs; i++)
		if (pdefs[i].vnode == pd->vnode && pdefs[i].off == pd->off)
			scn_error("page %s@0x%llx defined twice", ln->tok[1],
			    (unsigned long long)pd->off);
	check_keys(ln, 3, keys);
	if ((v = attr(ln, 3, "nrm")) != NULL)
		pd->nrm = (uint_t)flags_or_die("nrm", v, oracle_attr_flags) &
		    (P_MOD | P_REF | P_RO);
	if ((v = attr(ln, 3, "map")) != NULL) {
		char buf[MAXLINE], *save = NULL, *t;

		snprintf(buf, sizeof (buf), "%s", v);
		for (t = strtok_r(buf, ",", &save); t != NULL;
		    t = strtok_r(NULL, ",", &save)) {
			uchar_t hw = 0;

			if (pd->ntrans == ORACLE_MAXTRANS)
				scn_error("map: too many translations");
			if (strcmp(t, "-") != 0) {
				for (const char *c = t; *c; c++) {
					if (*c == 'r')
						hw |= P_REF;
					else if (*c == 'm')
						hw |= P_MOD;
					else
						scn_error("map: bad "
						    "translation '%s'", t);
				}
			}
			pd->hw[pd->ntrans++] = hw;
		}
	}
	if ((v = attr(ln, 3, "lck")) != NULL)
		pd->lck = (int)num_or_die("lck", v);
	if ((v = attr(ln, 3, "cow")) != NULL)
		pd->cow = (int)num_or_die("cow", v);
	if (pd->lck < 0 || pd->lck > 65535 || pd->cow < 0 || pd->cow > 65535)
		scn_error("lck/cow out of range");
	if ((v = attr(ln, 3, "free")) != NULL) {
		if (strcmp(v, "cache") == 0)
			pd->cached = 1;
		else if (strcmp(v, "-") != 0)
			scn_error("free: expected 'cache'");
	}
	if ((v = attr(ln, 3, "lock")) != NULL) {
		if (strcmp(v, "S") == 0)
			pd->rd_me = 1;
		else if (strcmp(v, "SS") == 0)
			pd->rd_me = pd->rd_other = 1;
		else if (strcmp(v, "X") == 0)
			pd->lock_excl = ORACLE_ME;
		else if (strcmp(v, "S@other") == 0)
			pd->rd_other = 1;
		else if (strcmp(v, "X@other") == 0)
			pd->lock_excl = ORACLE_OTHER;
		else if (strcmp(v, "-") != 0)
			scn_error("lock: unknown value '%s'", v);
	}
	if ((v = attr(ln, 3, "ew")) != NULL) {
		if (strcmp(v, "1") == 0)
			pd->ew = 1;
		else if (strcmp(v, "0") != 0)
			scn_error("ew: expected 0 or 1");
	}
	if ((v = attr(ln, 3, "io")) != NULL) {
		if (strcmp(v, "me") == 0 || strcmp(v, "other") == 0)
			pd->io = 1;
		else if (strcmp(v, "-") != 0)
			scn_error("io: expected me or other");
	}
	if (pd->cached && (pd->nrm != 0 || pd->ntrans != 0 || pd->io ||
	    pd->lck != 0 || pd->cow != 0))
		scn_error("a cached page must have nrm=0, no map, no io "
		    "lock and lck=cow=0");
	npdefs++;
}

/* Calls are checked for syntax at once, run later. */
struct calldef {
	const char	*name;
	int		has_vnode;
	const char	*const keys[10];
	const char	*const required[10];
};

static const struct calldef calldefs[] = {
	{ "pvn_read_kluster", 1,
	    { "off", "seg", "addr", "vp_off", "vp_len", "isra", NULL },
	    { "off", "seg", "vp_off", "vp_len", NULL } },
	{ "pvn_write_kluster", 1,
	    { "page", "vp_off", "vp_len", "flags", NULL },
	    { "page", "vp_off", "vp_len", NULL } },
	{ "pvn_getdirty", 1, { "page", "flags", NULL }, { "page", NULL } },
	{ "pvn_io_done", 0, { "list", NULL }, { "list", NULL } },
	{ "pvn_read_done", 0, { "list", "flags", NULL }, { "list", NULL } },
	{ "pvn_write_done", 0, { "list", "flags", NULL }, { "list", NULL } },
	{ "pvn_plist_init", 0, { "list", "plsz", "off", "io_len", "rw", NULL },
	    { "list", "plsz", "off", NULL } },
	{ "pvn_vplist_dirty", 1,
	    { "off", "flags", "blk", "fail", "failn", NULL },
	    { "off", NULL } },
	{ "pvn_vplist_setdirty", 1, { "check", NULL }, { "check", NULL } },
	{ "pvn_getpages", 1,
	    { "off", "len", "plsz", "seg", "addr", "rw", "fail", NULL },
	    { "off", "len", "plsz", NULL } },
	{ "pvn_vpzero", 1, { "vplen", "zbytes", NULL },
	    { "vplen", "zbytes", NULL } },
	{ NULL, 0, { NULL }, { NULL } }
};

static const struct calldef *
calldef_of(struct line *ln)
{
	int i;

	for (i = 0; calldefs[i].name != NULL; i++)
		if (strcmp(calldefs[i].name, ln->tok[1]) == 0)
			return (&calldefs[i]);
	scn_error("unknown call '%s'", ln->tok[1]);
}

static void
parse_call(struct line *ln)
{
	const struct calldef *cd;
	int first, i;

	if (ln->ntok < 2)
		scn_error("call: missing routine name");
	if (ncalls == MAXCALLS)
		scn_error("too many calls");
	cd = calldef_of(ln);
	first = 2;
	if (cd->has_vnode) {
		if (ln->ntok < 3 || vnode_index(ln->tok[2]) < 0)
			scn_error("%s: first argument must be a vnode",
			    cd->name);
		first = 3;
	}
	check_keys(ln, first, cd->keys);
	for (i = 0; cd->required[i] != NULL; i++)
		(void) need(ln, first, cd->required[i]);
	calls[ncalls] = *ln;
	/* the call header text: everything after the word `call' */
	snprintf(calls[ncalls].text, sizeof (calls[ncalls].text), "%s",
	    strchr(ln->text, ' ') + 1);
	ncalls++;
}

static void
read_scenario(FILE *f)
{
	static char buf[MAXLINE];
	int lineno = 0, seen_kernel = 0;
	/* 0: kernel, 1: tunable, 2: vnode/seg/page, 3: calls */
	int phase = 0;

	while (fgets(buf, sizeof (buf), f) != NULL) {
		struct line ln;
		char *copy;

		lineno++;
		cur_lineno = lineno;
		if (strlen(buf) == sizeof (buf) - 1 && buf[sizeof (buf) - 2]
		    != '\n')
			scn_error("line too long");
		copy = strdup(buf);
		if (copy == NULL) {
			fprintf(stderr, "pvn_oracle: out of memory\n");
			exit(3);
		}
		tokenize(copy, &ln);
		ln.lineno = lineno;
		if (ln.ntok == 0) {
			free(copy);
			continue;
		}
		if (strcmp(ln.tok[0], "kernel") == 0) {
			if (seen_kernel || phase > 0)
				scn_error("kernel must come first, once");
			seen_kernel = 1;
			parse_kernel(&ln);
		} else if (strcmp(ln.tok[0], "tunable") == 0) {
			if (phase > 1)
				scn_error("tunable after vnode/seg/page/call");
			phase = 1;
			parse_tunable(&ln);
		} else if (strcmp(ln.tok[0], "vnode") == 0 ||
		    strcmp(ln.tok[0], "seg") == 0 ||
		    strcmp(ln.tok[0], "page") == 0) {
			if (phase > 2)
				scn_error("%s after the first call",
				    ln.tok[0]);
			phase = 2;
			if (ln.tok[0][0] == 'v')
				parse_vnode(&ln);
			else if (ln.tok[0][0] == 's')
				parse_seg(&ln);
			else
				parse_page(&ln);
		} else if (strcmp(ln.tok[0], "call") == 0) {
			phase = 3;
			parse_call(&ln);
		} else {
			scn_error("unknown directive '%s'", ln.tok[0]);
		}
		/* `copy' stays allocated: the tokens point into it */
	}
	cur_lineno = 0;
	if (ncalls == 0)
		scn_error("no call lines");
}

/* ================================================================== */
/* Building the initial state (untraced)                               */
/* ================================================================== */

static void
build_state(void)
{
	int i, ncached = 0;

	oracle_set_pagesize(K.pagesize);
	minfree = (pgcnt_t)K.minfree;
	desfree = (pgcnt_t)K.desfree;
	lotsfree = (pgcnt_t)K.lotsfree;
	throttlefree = (pgcnt_t)K.throttlefree;
	pageout_reserve = (pgcnt_t)K.pageout_reserve;

	pvn_nofodklust = (int)K.nofodklust;
	pvn_write_noklust = (int)K.write_noklust;
	pvn_vmodsort_disable = (uint_t)K.vmodsort_disable;
	write_free = (int)K.wfree;
	pages_before_pager = (pgcnt_t)K.pbp;
	oracle_hat_vmodsort = (int)K.hat_vmodsort;

	/* physical pages: the free list first, then one per page line */
	oracle_alloc_phys((int)K.free + npdefs);
	for (i = 0; i < npdefs; i++) {
		struct pagedef *pd = &pdefs[i];
		page_t *pp = &oracle_phys[K.free + i];
		vnode_t *vp = &oracle_vnodes[pd->vnode];

		oracle_hashin_tail(pp, vp, pd->off);
		pp->p_nrm = (uchar_t)pd->nrm;
		pp->m_ntrans = pd->ntrans;
		for (int j = 0; j < pd->ntrans; j++) {
			pp->m_trans[j].t_hw = pd->hw[j];
			pp->m_trans[j].t_writable = 1;
		}
		pp->p_lckcnt = (ushort_t)pd->lck;
		pp->p_cowcnt = (ushort_t)pd->cow;
		if (pd->lock_excl != ORACLE_NOBODY)
			oracle_grant_lock(pp, SE_EXCL, pd->lock_excl);
		if (pd->rd_me)
			oracle_grant_lock(pp, SE_SHARED, ORACLE_ME);
		if (pd->rd_other)
			oracle_grant_lock(pp, SE_SHARED, ORACLE_OTHER);
		if (pd->io)
			pp->p_iolock_state |= PAGE_IO_INUSE;
		if (pd->ew)
			oracle_set_ewanted(pp);
		if (pd->cached) {
			oracle_cachelist_append(pp);
			ncached++;
		}
	}
	for (i = 0; i < K.free; i++)
		oracle_freelist_add(&oracle_phys[i]);
	freemem = (pgcnt_t)K.free + ncached;
}

/* ================================================================== */
/* Scripted callbacks                                                  */
/* ================================================================== */

static struct {
	u_offset_t	blk;
	int		nfail, nfailn;
	unsigned long long fail[64], failn[64];
} put_cfg;
static int putapage_calls;		/* over the whole scenario */

static int
scripted_putapage(vnode_t *vp, page_t *pp, u_offset_t *offp, size_t *lenp,
    int flags, cred_t *cr)
{
	int t = oracle_trace_begin("putapage(%s, %s)", oracle_pname(pp),
	    oracle_flags((unsigned long)(uint_t)flags, oracle_buf_flags));
	int n = ++putapage_calls, err = 0, i;
	u_offset_t o = 0;
	size_t l = 0;
	page_t *list;

	(void) cr;
	list = pvn_write_kluster(vp, pp, &o, &l,
	    pp->p_offset & ~(put_cfg.blk - 1), (size_t)put_cfg.blk, flags);
	for (i = 0; i < put_cfg.nfail; i++)
		if ((u_offset_t)put_cfg.fail[i] == o)
			err = EIO;
	for (i = 0; i < put_cfg.nfailn; i++)
		if (put_cfg.failn[i] == (unsigned long long)n)
			err = EIO;
	pvn_write_done(list, (err ? B_ERROR : 0) | B_WRITE | flags);
	if (offp != NULL)
		*offp = o;
	if (lenp != NULL)
		*lenp = l;
	oracle_trace_end(t, "%d", err);
	return (err);
}

static struct {
	int		has_fail;
	u_offset_t	fail;
} get_cfg;

static int
scripted_getpage(vnode_t *vp, u_offset_t off, size_t len, uint_t *protp,
    page_t *pl[], size_t plsz, struct seg *seg, caddr_t addr,
    enum seg_rw rw, cred_t *cr)
{
	int t = oracle_trace_begin("getpage(%s, 0x%llx, %zu, %zu)",
	    oracle_vname(vp), (unsigned long long)off, len, plsz);

	(void) protp; (void) seg; (void) addr; (void) rw; (void) cr;
	if (get_cfg.has_fail && off == get_cfg.fail) {
		oracle_trace_end(t, "%d", EIO);
		return (EIO);
	}
	if (pl != NULL) {
		pl[0] = page_lookup_nowait(vp, off, SE_SHARED);
		pl[1] = NULL;
	}
	oracle_trace_end(t, "0");
	return (0);
}

static struct {
	int		all;
	int		n;
	unsigned long long offs[256];
} check_cfg;

static int
scripted_page_check(page_t *pp)
{
	int t = oracle_trace_begin("page_check(%s)", oracle_pname(pp));
	int r = check_cfg.all, i;

	for (i = 0; !r && i < check_cfg.n; i++)
		if ((u_offset_t)check_cfg.offs[i] == pp->p_offset)
			r = 1;
	oracle_trace_end(t, "%d", r);
	return (r);
}

/* ================================================================== */
/* Running the calls                                                   */
/* ================================================================== */

static page_t	*last_list;		/* result of the last kluster call */
static char	result[65536];

#define	RING_LIMIT	(oracle_nphys + 200)

static void
append(char *buf, size_t sz, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, sz - n, fmt, ap);
	va_end(ap);
}

/* A p_next ring from its head, as "[a b c]" (or NULL). */
static void
append_ring(char *buf, size_t sz, page_t *head)
{
	page_t *pp = head;
	int n = 0;

	if (head == NULL) {
		append(buf, sz, "NULL");
		return;
	}
	append(buf, sz, "[");
	do {
		append(buf, sz, "%s%s", n ? " " : "", oracle_pname(pp));
		pp = pp->p_next;
		if (++n > RING_LIMIT) {
			append(buf, sz, " ...");
			break;
		}
	} while (pp != head);
	append(buf, sz, "]");
}

static page_t *
page_of(vnode_t *vp, const char *offstr)
{
	unsigned long long off = unum_or_die("page", offstr);
	page_t *pp = oracle_hash_find(vp, (u_offset_t)off);

	if (pp == NULL)
		scn_error("no page %s@0x%llx", vp->m_name, off);
	return (pp);
}

/* `last' or V:OFF,OFF,... (an I/O ring built without tracing). */
static page_t *
list_of(const char *spec)
{
	char buf[MAXLINE], *colon, *save = NULL, *t;
	page_t *head = NULL;
	vnode_t *vp;
	int vi;

	if (strcmp(spec, "last") == 0)
		return (last_list);
	snprintf(buf, sizeof (buf), "%s", spec);
	if ((colon = strchr(buf, ':')) == NULL)
		scn_error("list: expected 'last' or VNODE:OFF,...");
	*colon = '\0';
	if ((vi = vnode_index(buf)) < 0)
		scn_error("list: unknown vnode '%s'", buf);
	vp = &oracle_vnodes[vi];
	for (t = strtok_r(colon + 1, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		page_t *pp = page_of(vp, t), *q;

		if (PP_ISFREE(pp))
			scn_error("list: page %s is free", oracle_pname(pp));
		if (head != NULL) {
			q = head;
			do {
				if (q == pp)
					scn_error("list: page %s twice",
					    oracle_pname(pp));
				q = q->p_next;
			} while (q != head);
		}
		/* append at the tail */
		if (head == NULL) {
			pp->p_next = pp->p_prev = pp;
			head = pp;
		} else {
			pp->p_next = head;
			pp->p_prev = head->p_prev;
			head->p_prev->p_next = pp;
			head->p_prev = pp;
		}
	}
	return (head);
}

static void
append_pl(char *buf, size_t sz, page_t **pl, int nslots)
{
	int i;

	if (pl == NULL) {
		append(buf, sz, " pl=NULL");
		return;
	}
	append(buf, sz, " pl=[");
	for (i = 0; i < nslots && pl[i] != NULL; i++)
		append(buf, sz, "%s%s", i ? " " : "", oracle_pname(pl[i]));
	append(buf, sz, "]");
}

#define	UNSET_OFF	((u_offset_t)0xdeadbeefcafef00dULL)
#define	UNSET_LEN	((size_t)0xdeadbeefcafef00dULL)

static void
append_offlen(char *buf, size_t sz, u_offset_t off, size_t len)
{
	if (off != UNSET_OFF)
		append(buf, sz, " off=%llu", (unsigned long long)off);
	if (len != UNSET_LEN)
		append(buf, sz, " len=%zu", len);
}

static void
run_call(struct line *ln)
{
	const char *name = ln->tok[1];
	vnode_t *vp = NULL;
	int first = 2;
	const char *v;

	result[0] = '\0';
	if (calldef_of(ln)->has_vnode) {
		vp = &oracle_vnodes[vnode_index(ln->tok[2])];
		first = 3;
	}
#define	NUM(key)	unum_or_die(key, need(ln, first, key))
#define	OPTNUM(key, dflt) \
	((v = attr(ln, first, key)) != NULL ? unum_or_die(key, v) : (dflt))
#define	BFLAGS()	\
	((v = attr(ln, first, "flags")) != NULL ? \
	(int)flags_or_die("flags", v, oracle_buf_flags) : 0)

	if (strcmp(name, "pvn_read_kluster") == 0) {
		u_offset_t off = UNSET_OFF;
		size_t len = UNSET_LEN;
		unsigned long long o = NUM("off"), vo = NUM("vp_off");
		unsigned long long vl = NUM("vp_len");
		struct seg *seg = seg_by_name(need(ln, first, "seg"));
		caddr_t addr = (caddr_t)(uintptr_t)OPTNUM("addr", 0);
		int isra = (int)OPTNUM("isra", 0);
		page_t *pl;

		pl = pvn_read_kluster(vp, (u_offset_t)o, seg, addr, &off, &len,
		    (u_offset_t)vo, (size_t)vl, isra);
		last_list = pl;
		append(result, sizeof (result), "plist=");
		append_ring(result, sizeof (result), pl);
		append_offlen(result, sizeof (result), off, len);
	} else if (strcmp(name, "pvn_write_kluster") == 0) {
		u_offset_t off = UNSET_OFF;
		size_t len = UNSET_LEN;
		page_t *pp = page_of(vp, need(ln, first, "page"));
		unsigned long long vo = NUM("vp_off"), vl = NUM("vp_len");
		int flags = BFLAGS();
		page_t *pl;

		pl = pvn_write_kluster(vp, pp, &off, &len, (u_offset_t)vo,
		    (size_t)vl, flags);
		last_list = pl;
		append(result, sizeof (result), "plist=");
		append_ring(result, sizeof (result), pl);
		append_offlen(result, sizeof (result), off, len);
	} else if (strcmp(name, "pvn_getdirty") == 0) {
		page_t *pp = page_of(vp, need(ln, first, "page"));
		int flags = BFLAGS();
		int r = pvn_getdirty(pp, flags);

		append(result, sizeof (result), "ret=%d", r);
	} else if (strcmp(name, "pvn_io_done") == 0) {
		pvn_io_done(list_of(need(ln, first, "list")));
		append(result, sizeof (result), "void");
	} else if (strcmp(name, "pvn_read_done") == 0) {
		page_t *l = list_of(need(ln, first, "list"));

		pvn_read_done(l, BFLAGS());
		append(result, sizeof (result), "void");
	} else if (strcmp(name, "pvn_write_done") == 0) {
		page_t *l = list_of(need(ln, first, "list"));

		pvn_write_done(l, BFLAGS());
		append(result, sizeof (result), "void");
	} else if (strcmp(name, "pvn_plist_init") == 0) {
		page_t *l = list_of(need(ln, first, "list"));
		unsigned long long plsz = NUM("plsz"), off = NUM("off");
		unsigned long long io_len = OPTNUM("io_len", 0);
		enum seg_rw rw = (v = attr(ln, first, "rw")) != NULL ?
		    rw_or_die(v) : S_READ;
		unsigned long long npl = 0;
		int nslots;
		page_t **pl, *q;

		/*
		 * pl never receives more pages than the list holds, so the
		 * array is cut to that: any plsz up to 2^64 - 1 can be tried.
		 */
		if ((q = l) != NULL) {
			do {
				npl++;
				q = q->p_next;
			} while (q != l);
		}
		if (plsz / PAGESIZE < npl)
			npl = plsz / PAGESIZE;
		nslots = (int)npl + 2;
		pl = calloc(nslots, sizeof (page_t *));
		pvn_plist_init(l, pl, (size_t)plsz, (u_offset_t)off,
		    (size_t)io_len, rw);
		append(result, sizeof (result), "void");
		append_pl(result, sizeof (result), pl, nslots);
		free(pl);
	} else if (strcmp(name, "pvn_vplist_dirty") == 0) {
		unsigned long long off = NUM("off");
		int flags = BFLAGS(), r;

		put_cfg.blk = (u_offset_t)OPTNUM("blk", 8192);
		if (put_cfg.blk == 0 || (put_cfg.blk & (put_cfg.blk - 1)))
			scn_error("blk must be a power of two");
		put_cfg.nfail = put_cfg.nfailn = 0;
		if ((v = attr(ln, first, "fail")) != NULL)
			put_cfg.nfail = num_list("fail", v, put_cfg.fail, 64);
		if ((v = attr(ln, first, "failn")) != NULL)
			put_cfg.nfailn = num_list("failn", v, put_cfg.failn,
			    64);
		r = pvn_vplist_dirty(vp, (u_offset_t)off, scripted_putapage,
		    flags, kcred);
		append(result, sizeof (result), "ret=%d", r);
	} else if (strcmp(name, "pvn_vplist_setdirty") == 0) {
		v = need(ln, first, "check");
		check_cfg.all = 0;
		check_cfg.n = 0;
		if (strcmp(v, "all") == 0)
			check_cfg.all = 1;
		else if (strcmp(v, "none") != 0)
			check_cfg.n = num_list("check", v, check_cfg.offs,
			    256);
		pvn_vplist_setdirty(vp, scripted_page_check);
		append(result, sizeof (result), "void");
	} else if (strcmp(name, "pvn_getpages") == 0) {
		unsigned long long off = NUM("off"), len = NUM("len");
		unsigned long long plsz = NUM("plsz");
		struct seg *seg = (v = attr(ln, first, "seg")) != NULL ?
		    seg_by_name(v) : NULL;
		caddr_t addr = (caddr_t)(uintptr_t)OPTNUM("addr", 0);
		enum seg_rw rw = (v = attr(ln, first, "rw")) != NULL ?
		    rw_or_die(v) : S_READ;
		uint_t prot = 0;
		int nslots = 0, r;
		page_t **pl = NULL;

		if (len == 0)
			scn_error("pvn_getpages: need len > 0");
		if (plsz > MAXPLSZ)
			scn_error("plsz too large for the model");
		get_cfg.has_fail = 0;
		if ((v = attr(ln, first, "fail")) != NULL) {
			get_cfg.has_fail = 1;
			get_cfg.fail = (u_offset_t)unum_or_die("fail", v);
		}
		if (plsz > 0) {
			nslots = (int)(plsz / PAGESIZE) + 2;
			pl = calloc(nslots, sizeof (page_t *));
		}
		r = pvn_getpages(scripted_getpage, vp, (u_offset_t)off,
		    (size_t)len, &prot, pl, (size_t)plsz, seg, addr, rw, kcred);
		append(result, sizeof (result), "ret=%d", r);
		append_pl(result, sizeof (result), pl, nslots);
		free(pl);
	} else if (strcmp(name, "pvn_vpzero") == 0) {
		unsigned long long vplen = NUM("vplen"), zbytes = NUM("zbytes");

		pvn_vpzero(vp, (u_offset_t)vplen, (size_t)zbytes);
		append(result, sizeof (result), "void");
	} else {
		scn_error("unknown call '%s'", name);
	}
#undef NUM
#undef OPTNUM
#undef BFLAGS
}

/* ================================================================== */
/* The dump                                                            */
/* ================================================================== */

static int
page_cmp(const void *a, const void *b)
{
	const page_t *p = *(page_t *const *)a, *q = *(page_t *const *)b;

	if (p->p_vnode->m_index != q->p_vnode->m_index)
		return (p->p_vnode->m_index < q->p_vnode->m_index ? -1 : 1);
	if (p->p_offset != q->p_offset)
		return (p->p_offset < q->p_offset ? -1 : 1);
	return (0);
}

static void
print_lock(page_t *pp)
{
	int readers = pp->p_selock & ~SE_EWANTED;

	if (pp->p_selock < 0)
		printf("X%s", pp->m_excl == ORACLE_OTHER ? "@other" : "");
	else if (readers == 0)
		printf("-");
	else
		printf("S%d%s", readers, pp->m_rd_me == 0 ? "@other" : "");
}

static void
print_map(page_t *pp)
{
	int i;

	if (pp->m_ntrans == 0) {
		printf("none");
		return;
	}
	for (i = 0; i < pp->m_ntrans; i++) {
		uchar_t hw = pp->m_trans[i].t_hw;

		printf("%s%s%s%s", i ? "," : "", (hw & P_REF) ? "r" : "",
		    (hw & P_MOD) ? "m" : "", (hw & (P_REF | P_MOD)) ? "" : "-");
	}
}

static void
dump(int n, struct line *ln)
{
	static char buf[65536];
	page_t **sorted;
	page_t *pp;
	int i, k, np = 0;
	struct oracle_cpu_vminfo *s = &oracle_cpu.cpu_stats.vm;

	printf("== call %d: %s\n", n, ln->text);
	printf("result: %s\n", result);

	buf[0] = '\0';
	if (oracle_cache_head != NULL) {
		pp = oracle_cache_head;
		k = 0;
		do {
			append(buf, sizeof (buf), "%s%s", k ? " " : "",
			    oracle_pname(pp));
			pp = pp->p_next;
			if (++k > RING_LIMIT) {
				append(buf, sizeof (buf), " ...");
				break;
			}
		} while (pp != oracle_cache_head);
	}
	printf("mem: freemem=%lu freelist=%lu cachelist=[%s]\n",
	    (unsigned long)freemem, (unsigned long)oracle_nfree, buf);

	for (i = 0; i < oracle_nvnodes; i++) {
		vnode_t *vp = &oracle_vnodes[i];

		buf[0] = '\0';
		if (vp->v_pages != NULL) {
			pp = vp->v_pages;
			k = 0;
			do {
				append(buf, sizeof (buf), "%s%s", k ? " " : "",
				    oracle_pname(pp));
				pp = pp->p_vpnext;
				if (++k > RING_LIMIT) {
					append(buf, sizeof (buf), " ...");
					break;
				}
			} while (pp != vp->v_pages);
		}
		printf("vnode %s flags=%s pages=[%s]\n", vp->m_name,
		    oracle_flags(vp->v_flag, oracle_v_flags), buf);
	}

	sorted = calloc(oracle_nphys + 1, sizeof (page_t *));
	for (i = 0; i < oracle_nphys; i++)
		if (oracle_phys[i].p_vnode != NULL)
			sorted[np++] = &oracle_phys[i];
	qsort(sorted, np, sizeof (page_t *), page_cmp);
	for (i = 0; i < np; i++) {
		pp = sorted[i];
		printf("page %s lock=", oracle_pname(pp));
		print_lock(pp);
		printf(" ew=%d io=%d nrm=%s map=",
		    (pp->p_selock & SE_EWANTED) ? 1 : 0,
		    (pp->p_iolock_state & PAGE_IO_INUSE) ? 1 : 0,
		    oracle_flags(pp->p_nrm, oracle_attr_flags));
		print_map(pp);
		printf(" lck=%d cow=%d free=%s\n", (int)pp->p_lckcnt,
		    (int)pp->p_cowcnt,
		    pp->m_list == ORACLE_LIST_CACHE ? "cache" : "-");
	}
	free(sorted);

	printf("stats: dfree=%llu pgrec=%llu pgout=%llu pgpgout=%llu "
	    "anonpgout=%llu anonfree=%llu fspgout=%llu fsfree=%llu "
	    "execpgout=%llu execfree=%llu\n",
	    (unsigned long long)s->dfree, (unsigned long long)s->pgrec,
	    (unsigned long long)s->pgout, (unsigned long long)s->pgpgout,
	    (unsigned long long)s->anonpgout, (unsigned long long)s->anonfree,
	    (unsigned long long)s->fspgout, (unsigned long long)s->fsfree,
	    (unsigned long long)s->execpgout, (unsigned long long)s->execfree);

	printf("trace:\n");
	for (i = 0; i < oracle_trace_count(); i++)
		printf("  %s\n", oracle_trace_line(i));
	fflush(stdout);
}

/* ================================================================== */
/* main                                                                */
/* ================================================================== */

int
main(int argc, char **argv)
{
	FILE *f = stdin;
	int i;

	if (argc > 2) {
		fprintf(stderr, "usage: pvn_oracle [SCENARIO]\n");
		return (2);
	}
	if (argc == 2 && strcmp(argv[1], "-") != 0) {
		f = fopen(argv[1], "r");
		if (f == NULL) {
			fprintf(stderr, "pvn_oracle: cannot open %s: %s\n",
			    argv[1], strerror(errno));
			return (2);
		}
	}
	read_scenario(f);
	if (f != stdin)
		fclose(f);

	build_state();
	oracle_trace_enable(0);
	pvn_init();

	for (i = 0; i < ncalls; i++) {
		volatile int aborted = 0;

		cur_lineno = calls[i].lineno;
		oracle_trace_reset();
		oracle_trace_enable(1);
		oracle_jmp_armed = 1;
		if (setjmp(oracle_jmp) == 0) {
			run_call(&calls[i]);
		} else {
			snprintf(result, sizeof (result), "%s",
			    oracle_abort_msg);
			aborted = 1;
		}
		oracle_jmp_armed = 0;
		oracle_trace_enable(0);
		dump(i + 1, &calls[i]);
		if (aborted)
			break;
	}
	return (0);
}
