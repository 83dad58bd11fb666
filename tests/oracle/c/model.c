/*
 * model.c - a small, single-threaded C model of the kernel primitives that
 * illumos vm_pvn.c calls, for the pvnsim fidelity oracle.
 *
 * The contracts are those of ../../../../shared/illumos/semantics.md section 4
 * with the simplifications of docs/oracle.md ("Model assumptions"); the
 * choices this file had to make beyond those documents are listed in
 * README.md next to it.
 *
 * Structure:
 *   - every primitive that vm_pvn.c (or a scripted callback of the driver)
 *     calls is a public function that records one trace line and then runs
 *     an internal helper (named m_*);
 *   - primitives never call each other's public versions, only the m_*
 *     helpers, so calls made *inside* a primitive leave no trace line;
 *   - something that would sleep forever in a single-threaded world
 *     ("would block") ends the call via longjmp with WOULDBLOCK, a panic or a
 *     failed ASSERT with PANIC (see oracle_wouldblock / oracle_mpanic).
 */
#include "oracle.h"

/* ================================================================== */
/* Kernel globals the headers promise                                   */
/* ================================================================== */

long			_pagesize = 4096;
uint_t			_pageshift = 12;
long			_pageoffset = 4095;
unsigned long long	_pagemask = ~4095ULL;

pgcnt_t freemem;
pgcnt_t minfree;
pgcnt_t desfree;
pgcnt_t lotsfree;
pgcnt_t throttlefree;
pgcnt_t pageout_reserve;

struct cpu oracle_cpu;

static cred_t kcred_store;
cred_t *kcred = &kcred_store;

static struct as kas_store;
static struct seg segkmap_store = {
	.s_base = 0, .s_size = 0, .s_as = &kas_store,
	.m_name = "segkmap", .m_kind = ORACLE_SEG_SEGMAP,
};
struct seg *segkmap = &segkmap_store;

int oracle_hat_vmodsort = 1;

/* Objects of the scenario (filled by the driver). */
vnode_t		oracle_vnodes[ORACLE_MAXVNODES];
int		oracle_nvnodes;
struct seg	oracle_segs[ORACLE_MAXSEGS];
int		oracle_nsegs;
page_t		*oracle_phys;
int		oracle_nphys;

/*
 * Free list (pages without identity) and cache list (free pages that kept
 * their identity).  Both are circular lists through p_next/p_prev; the head
 * is the next page handed out.
 */
static page_t	*free_head;
pgcnt_t		oracle_nfree;
page_t		*oracle_cache_head;

/*
 * The page hash: chains through p_hash, keyed by (vnode, offset).  The
 * oracle's scenarios are small; the benchmark build (build.sh OUTDIR bench)
 * passes -DHASH_SIZE=262144 so that lookups stay O(1) with 100,000 pages.
 * The chains and hence the dumps do not depend on the size.
 */
#ifndef HASH_SIZE
#define	HASH_SIZE	256
#endif
static page_t	*hash_tab[HASH_SIZE];

/* ================================================================== */
/* Flag names (ascending single bits)                                  */
/* ================================================================== */

const struct oracle_flagname oracle_buf_flags[] = {
	{ B_BUSY, "B_BUSY" }, { B_DONE, "B_DONE" }, { B_ERROR, "B_ERROR" },
	{ B_PAGEIO, "B_PAGEIO" }, { B_PHYS, "B_PHYS" }, { B_READ, "B_READ" },
	{ B_WANTED, "B_WANTED" }, { B_WRITE, "B_WRITE" }, { B_AGE, "B_AGE" },
	{ B_ASYNC, "B_ASYNC" }, { B_DELWRI, "B_DELWRI" },
	{ B_STALE, "B_STALE" }, { B_DONTNEED, "B_DONTNEED" },
	{ B_REMAPPED, "B_REMAPPED" }, { B_FREE, "B_FREE" },
	{ B_INVAL, "B_INVAL" }, { B_FORCE, "B_FORCE" },
	{ B_NOCACHE, "B_NOCACHE" }, { B_TRUNC, "B_TRUNC" },
	{ B_SHADOW, "B_SHADOW" }, { B_RETRYWRI, "B_RETRYWRI" },
	{ B_FAILFAST, "B_FAILFAST" }, { B_STARTED, "B_STARTED" },
	{ B_ABRWRITE, "B_ABRWRITE" }, { 0, NULL }
};

const struct oracle_flagname oracle_pg_flags[] = {
	{ PG_EXCL, "PG_EXCL" }, { PG_WAIT, "PG_WAIT" },
	{ PG_PHYSCONTIG, "PG_PHYSCONTIG" }, { PG_MATCH_COLOR, "PG_MATCH_COLOR" },
	{ PG_NORELOC, "PG_NORELOC" }, { PG_PANIC, "PG_PANIC" },
	{ PG_PUSHPAGE, "PG_PUSHPAGE" }, { PG_LOCAL, "PG_LOCAL" },
	{ PG_NORMALPRI, "PG_NORMALPRI" }, { 0, NULL }
};

const struct oracle_flagname oracle_sync_flags[] = {
	{ HAT_SYNC_ZERORM, "HAT_SYNC_ZERORM" },
	{ HAT_SYNC_STOPON_REF, "HAT_SYNC_STOPON_REF" },
	{ HAT_SYNC_STOPON_MOD, "HAT_SYNC_STOPON_MOD" },
	{ HAT_SYNC_STOPON_SHARED, "HAT_SYNC_STOPON_SHARED" }, { 0, NULL }
};

const struct oracle_flagname oracle_attr_flags[] = {
	{ P_MOD, "P_MOD" }, { P_REF, "P_REF" }, { P_RO, "P_RO" },
	{ P_NSH, "P_NSH" }, { 0, NULL }
};

const struct oracle_flagname oracle_sm_flags[] = {
	{ SM_WRITE, "SM_WRITE" }, { SM_ASYNC, "SM_ASYNC" },
	{ SM_FREE, "SM_FREE" }, { SM_INVAL, "SM_INVAL" },
	{ SM_DONTNEED, "SM_DONTNEED" }, { SM_DESTROY, "SM_DESTROY" },
	{ 0, NULL }
};

const struct oracle_flagname oracle_v_flags[] = {
	{ VROOT, "VROOT" }, { VNOCACHE, "VNOCACHE" }, { VNOMAP, "VNOMAP" },
	{ VDUP, "VDUP" }, { VNOSWAP, "VNOSWAP" }, { VNOMOUNT, "VNOMOUNT" },
	{ VISSWAP, "VISSWAP" }, { VSWAPLIKE, "VSWAPLIKE" },
	{ VVFSLOCK, "VVFSLOCK" }, { VVFSWAIT, "VVFSWAIT" },
	{ VVMLOCK, "VVMLOCK" }, { VDIROPEN, "VDIROPEN" },
	{ VVMEXEC, "VVMEXEC" }, { VPXFS, "VPXFS" },
	{ V_XATTRDIR, "V_XATTRDIR" }, { V_LOCALITY, "V_LOCALITY" },
	{ VMODSORT, "VMODSORT" }, { VISSWAPFS, "VISSWAPFS" },
	{ V_SYSATTR, "V_SYSATTR" }, { VTRAVERSE, "VTRAVERSE" }, { 0, NULL }
};

/* ================================================================== */
/* Rendering                                                           */
/* ================================================================== */

#define	NRBUF	64
#define	RBUFSZ	512
static char	rbuf[NRBUF][RBUFSZ];
static int	rbuf_next;

static char *
rb(void)
{
	char *b = rbuf[rbuf_next];

	rbuf_next = (rbuf_next + 1) % NRBUF;
	b[0] = '\0';
	return (b);
}

/* The kmem cache keeps a record of every marker it ever built. */
#define	MAXMARKERS	64
static page_t	*markers[MAXMARKERS];
static int	nmarkers;

static int
is_phys(const void *p)
{
	const page_t *pp = p;

	return (oracle_phys != NULL && pp >= oracle_phys &&
	    pp < oracle_phys + oracle_nphys &&
	    ((const char *)pp - (const char *)oracle_phys) %
	    sizeof (page_t) == 0);
}

static int
is_marker(const void *p)
{
	int i;

	for (i = 0; i < nmarkers; i++)
		if (markers[i] == p)
			return (1);
	return (0);
}

static int
is_vnode(const void *p)
{
	int i;

	for (i = 0; i < oracle_nvnodes; i++)
		if (&oracle_vnodes[i] == p)
			return (1);
	return (0);
}

const char *
oracle_pname(page_t *pp)
{
	char *b = rb();

	if (pp == NULL)
		snprintf(b, RBUFSZ, "NULL");
	else if (pp->p_hash == PVN_VPLIST_HASH_TAG)
		snprintf(b, RBUFSZ, "MARK(%lld)", (long long)pp->p_offset);
	else if (pp->p_vnode == NULL)
		snprintf(b, RBUFSZ, "NOIDENT");
	else
		snprintf(b, RBUFSZ, "%s@0x%llx", oracle_vname(pp->p_vnode),
		    (unsigned long long)pp->p_offset);
	return (b);
}

const char *
oracle_vname(struct vnode *vp)
{
	char *b;

	if (vp == NULL)
		return ("NULL");
	if (is_vnode(vp))
		return (vp->m_name);
	b = rb();
	snprintf(b, RBUFSZ, "0x%lx", (unsigned long)(uintptr_t)vp);
	return (b);
}

const char *
oracle_segname(struct seg *seg)
{
	return (seg == NULL ? "NULL" : seg->m_name);
}

const char *
oracle_flags(unsigned long v, const struct oracle_flagname *tbl)
{
	char *b = rb();
	unsigned long rest = v;
	size_t n = 0;
	int i;

	if (v == 0)
		return ("0");
	for (i = 0; tbl[i].name != NULL; i++) {
		if (v & tbl[i].value) {
			n += snprintf(b + n, RBUFSZ - n, "%s%s",
			    n ? "|" : "", tbl[i].name);
			rest &= ~tbl[i].value;
		}
	}
	if (rest != 0)
		snprintf(b + n, RBUFSZ - n, "%s0x%lx", n ? "|" : "", rest);
	return (b);
}

static const char *
addrname(const void *a)
{
	char *b = rb();

	snprintf(b, RBUFSZ, "0x%lx", (unsigned long)(uintptr_t)a);
	return (b);
}

static const char *
sename(se_t se)
{
	return (se == SE_EXCL ? "SE_EXCL" : se == SE_SHARED ? "SE_SHARED" :
	    "SE_?");
}

static const char *
mutexname(kmutex_t *mp)
{
	char *b = rb();

	if (mp == NULL)
		return ("NULL");
	if (mp->m_kind == ORACLE_MUTEX_VPHM)
		snprintf(b, RBUFSZ, "vphm(%s)", oracle_vname(mp->m_vp));
	else if (mp->m_kind == ORACLE_MUTEX_V_LOCK)
		snprintf(b, RBUFSZ, "v_lock(%s)", oracle_vname(mp->m_vp));
	else
		snprintf(b, RBUFSZ, "0x%lx", (unsigned long)(uintptr_t)mp);
	return (b);
}

static const char *
cvname(kcondvar_t *cv)
{
	char *b = rb();

	snprintf(b, RBUFSZ, "v_cv(%s)", oracle_vname(cv->c_vp));
	return (b);
}

static const char *
rwname(enum seg_rw rw)
{
	static const char *names[] = { "S_OTHER", "S_READ", "S_WRITE",
	    "S_EXEC", "S_CREATE", "S_READ_NOCOW" };

	if ((unsigned)rw < sizeof (names) / sizeof (names[0]))
		return (names[rw]);
	return ("S_?");
}

static const char *
pgrelname(int r)
{
	switch (r) {
	case PGREL_NOTREL:	return ("PGREL_NOTREL");
	case PGREL_CLEAN:	return ("PGREL_CLEAN");
	case PGREL_MOD:		return ("PGREL_MOD");
	}
	return ("PGREL_?");
}

/*
 * A vnode-list link (first argument of page_vpadd/page_vpsub) is either the
 * v_pages field of a vnode or the p_vpnext field of some page.
 */
static const char *
linkname(page_t **ppp)
{
	char *b;
	page_t *owner;
	int i;

	if (ppp == NULL)
		return ("NULL");
	for (i = 0; i < oracle_nvnodes; i++) {
		if (ppp == &oracle_vnodes[i].v_pages) {
			b = rb();
			snprintf(b, RBUFSZ, "&%s.v_pages",
			    oracle_vnodes[i].m_name);
			return (b);
		}
	}
	owner = (page_t *)(void *)((char *)ppp - offsetof(page_t, p_vpnext));
	if (is_phys(owner) || is_marker(owner)) {
		b = rb();
		snprintf(b, RBUFSZ, "&%s.p_vpnext", oracle_pname(owner));
		return (b);
	}
	owner = (page_t *)(void *)((char *)ppp - offsetof(page_t, p_vpprev));
	if (is_phys(owner) || is_marker(owner)) {
		b = rb();
		snprintf(b, RBUFSZ, "&%s.p_vpprev", oracle_pname(owner));
		return (b);
	}
	return (addrname(ppp));
}

/* ================================================================== */
/* Tracing                                                             */
/* ================================================================== */

struct trace_ent {
	char	*text;		/* "name(args)" */
	char	*result;	/* NULL while the call has not returned */
};

static struct trace_ent	*trace;
static int		ntrace, trace_cap;
int			oracle_trace_on;

void
oracle_trace_enable(int on)
{
	oracle_trace_on = on;
}

void
oracle_trace_reset(void)
{
	int i;

	for (i = 0; i < ntrace; i++) {
		free(trace[i].text);
		free(trace[i].result);
	}
	ntrace = 0;
}

/* Called through the oracle_trace_begin macro, only when tracing is on. */
int
oracle_trace_begin_fmt(const char *fmt, ...)
{
	va_list ap;
	char buf[2048];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof (buf), fmt, ap);
	va_end(ap);
	if (ntrace == trace_cap) {
		trace_cap = trace_cap ? 2 * trace_cap : 256;
		trace = realloc(trace, trace_cap * sizeof (*trace));
		if (trace == NULL) {
			fprintf(stderr, "pvn_oracle: out of memory\n");
			exit(3);
		}
	}
	trace[ntrace].text = strdup(buf);
	trace[ntrace].result = NULL;
	return (ntrace++);
}

/* Called through the oracle_trace_end macro, only for an index >= 0. */
void
oracle_trace_end_fmt(int idx, const char *fmt, ...)
{
	va_list ap;
	char buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof (buf), fmt, ap);
	va_end(ap);
	free(trace[idx].result);
	trace[idx].result = strdup(buf);
}

int
oracle_trace_count(void)
{
	return (ntrace);
}

const char *
oracle_trace_line(int i)
{
	static char b[4096];

	if (trace[i].result != NULL && trace[i].result[0] != '\0')
		snprintf(b, sizeof (b), "%s = %s", trace[i].text,
		    trace[i].result);
	else
		snprintf(b, sizeof (b), "%s", trace[i].text);
	return (b);
}

/* Void primitives end with an empty result: nothing is appended. */
#define	TR_VOID(t)	oracle_trace_end((t), "%s", "")

/* ================================================================== */
/* Ending a call early: WOULDBLOCK and PANIC                           */
/* ================================================================== */

jmp_buf	oracle_jmp;
int	oracle_jmp_armed;
char	oracle_abort_msg[1024];

static void __attribute__((noreturn))
abort_call(void)
{
	if (!oracle_jmp_armed) {
		fprintf(stderr, "pvn_oracle: %s outside of a call\n",
		    oracle_abort_msg);
		exit(3);
	}
	longjmp(oracle_jmp, 1);
}

/*
 * The primitive whose trace line is `idx' cannot proceed: a single-threaded
 * run would sleep forever.  Nothing has been changed by it.
 */
void
oracle_wouldblock(int idx)
{
	if (idx < 0) {
		snprintf(oracle_abort_msg, sizeof (oracle_abort_msg),
		    "WOULDBLOCK (untraced)");
	} else {
		oracle_trace_end(idx, "WOULDBLOCK");
		snprintf(oracle_abort_msg, sizeof (oracle_abort_msg),
		    "WOULDBLOCK %s", trace[idx].text);
	}
	abort_call();
}

/*
 * Minimal printf for panic messages: %p prints a page or vnode by name
 * (anything else as hex), the integer conversions print as usual.
 */
static void
panic_format(char *out, size_t outsz, const char *fmt, va_list ap)
{
	size_t n = 0;
	const char *f;
	char tmp[512];

	for (f = fmt; *f != '\0' && n + 1 < outsz; f++) {
		int lng = 0;

		if (*f != '%') {
			out[n++] = *f;
			continue;
		}
		f++;
		while (*f == 'l') {
			lng++;
			f++;
		}
		tmp[0] = '\0';
		switch (*f) {
		case '%':
			snprintf(tmp, sizeof (tmp), "%%");
			break;
		case 'p': {
			void *p = va_arg(ap, void *);

			if (p == NULL)
				snprintf(tmp, sizeof (tmp), "NULL");
			else if (is_phys(p) || is_marker(p))
				snprintf(tmp, sizeof (tmp), "%s",
				    oracle_pname(p));
			else if (is_vnode(p))
				snprintf(tmp, sizeof (tmp), "%s",
				    oracle_vname(p));
			else
				snprintf(tmp, sizeof (tmp), "0x%lx",
				    (unsigned long)(uintptr_t)p);
			break;
		}
		case 's':
			snprintf(tmp, sizeof (tmp), "%s", va_arg(ap, char *));
			break;
		case 'd': case 'i':
			if (lng >= 2)
				snprintf(tmp, sizeof (tmp), "%lld",
				    va_arg(ap, long long));
			else if (lng == 1)
				snprintf(tmp, sizeof (tmp), "%ld",
				    va_arg(ap, long));
			else
				snprintf(tmp, sizeof (tmp), "%d",
				    va_arg(ap, int));
			break;
		case 'u': case 'x':
			if (lng >= 2)
				snprintf(tmp, sizeof (tmp),
				    *f == 'u' ? "%llu" : "%llx",
				    va_arg(ap, unsigned long long));
			else if (lng == 1)
				snprintf(tmp, sizeof (tmp),
				    *f == 'u' ? "%lu" : "%lx",
				    va_arg(ap, unsigned long));
			else
				snprintf(tmp, sizeof (tmp),
				    *f == 'u' ? "%u" : "%x",
				    va_arg(ap, unsigned int));
			break;
		default:
			snprintf(tmp, sizeof (tmp), "%%%c", *f);
			if (*f == '\0')
				f--;
			break;
		}
		n += snprintf(out + n, outsz - n, "%s", tmp);
		if (n >= outsz)
			n = outsz - 1;
	}
	out[n] = '\0';
	/* cmn_err-style trailing newlines are not part of the message */
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
}

/* A panic inside the model (not traced). */
void
oracle_mpanic(const char *fmt, ...)
{
	va_list ap;
	char msg[900];

	va_start(ap, fmt);
	panic_format(msg, sizeof (msg), fmt, ap);
	va_end(ap);
	snprintf(oracle_abort_msg, sizeof (oracle_abort_msg), "PANIC %s", msg);
	abort_call();
}

void
oracle_assfail(const char *expr)
{
	oracle_mpanic("assertion failed: %s", expr);
}

/* panic() as called by vm_pvn.c: traced, then the call ends. */
void
panic(const char *fmt, ...)
{
	va_list ap;
	char msg[900];

	va_start(ap, fmt);
	panic_format(msg, sizeof (msg), fmt, ap);
	va_end(ap);
	(void) oracle_trace_begin("panic(%s)", msg);
	snprintf(oracle_abort_msg, sizeof (oracle_abort_msg), "PANIC %s", msg);
	abort_call();
}

/* ================================================================== */
/* Page size                                                           */
/* ================================================================== */

void
oracle_set_pagesize(long sz)
{
	uint_t shift = 0;

	while ((1L << shift) < sz)
		shift++;
	_pagesize = sz;
	_pageshift = shift;
	_pageoffset = sz - 1;
	_pagemask = ~(unsigned long long)(sz - 1);
}

/* ================================================================== */
/* Intrusive circular lists                                            */
/* ================================================================== */

/*
 * The I/O/free-list family (p_next/p_prev).  `*ppp' names the head.  add
 * puts pp just before *ppp and makes it the new *ppp; sub unlinks pp,
 * advancing *ppp if pp was the head, and leaves pp a ring of one.
 */
static void
m_add(page_t **ppp, page_t *pp)
{
	if (*ppp == NULL) {
		pp->p_next = pp->p_prev = pp;
	} else {
		pp->p_next = *ppp;
		pp->p_prev = (*ppp)->p_prev;
		(*ppp)->p_prev = pp;
		pp->p_prev->p_next = pp;
	}
	*ppp = pp;
}

static void
m_sub(page_t **ppp, page_t *pp)
{
	if (*ppp == pp)
		*ppp = pp->p_next;
	if (*ppp == pp) {
		*ppp = NULL;
	} else {
		pp->p_prev->p_next = pp->p_next;
		pp->p_next->p_prev = pp->p_prev;
	}
	pp->p_prev = pp->p_next = pp;
}

/*
 * The vnode-list family (p_vpnext/p_vpprev), same shape.  Because the link
 * may be the p_vpnext field of a page X, `page_vpadd(&X->p_vpnext, pp)'
 * inserts pp right after X without touching v_pages.
 */
static void
m_vpadd(page_t **ppp, page_t *pp)
{
	if (*ppp == NULL) {
		pp->p_vpnext = pp->p_vpprev = pp;
	} else {
		pp->p_vpnext = *ppp;
		pp->p_vpprev = (*ppp)->p_vpprev;
		(*ppp)->p_vpprev = pp;
		pp->p_vpprev->p_vpnext = pp;
	}
	*ppp = pp;
}

static void
m_vpsub(page_t **ppp, page_t *pp)
{
	if (*ppp == pp)
		*ppp = pp->p_vpnext;
	if (*ppp == pp) {
		*ppp = NULL;
	} else {
		pp->p_vpprev->p_vpnext = pp->p_vpnext;
		pp->p_vpnext->p_vpprev = pp->p_vpprev;
	}
	pp->p_vpprev = pp->p_vpnext = pp;
}

/* ================================================================== */
/* Page locks                                                          */
/* ================================================================== */

/*
 * p_selock holds what illumos keeps there: 0 (free), n > 0 (n readers) or
 * a negative writer value, plus the SE_EWANTED bit, set while a thread waits
 * for the exclusive lock (page_lock_es with SE_EXCL_WANTED).  While it is
 * set, page_lock.c refuses readers, plain exclusive requests, every trylock
 * and upgrades; releasing and downgrading keep it; page_hashout clears it.
 * The model's own fields (m_excl, m_rd_me, m_rd_other) only say who holds
 * the lock, for the dump.
 */
#define	SE_HOLDS(pp)	((pp)->p_selock & ~SE_EWANTED)
#define	SE_WANTED(pp)	((pp)->p_selock & SE_EWANTED)

/*
 * Whether page_lock(pp, se, ...) (page_lock_es with es 0) could take the
 * lock now.  A p_selock of exactly 0 means no holder and no SE_EWANTED.
 */
static int
m_lock_grantable(page_t *pp, se_t se)
{
	if (se == SE_EXCL)
		return (pp->p_selock == 0);
	return (pp->p_selock >= 0 && !SE_WANTED(pp));
}

/*
 * Give the lock to `who' (the scenario builder and the model, which have
 * checked it may be taken).  An exclusive grant replaces p_selock, as
 * page_lock.c's SE_WRITER assignment does; a reader is added to it.
 */
void
oracle_grant_lock(page_t *pp, se_t se, int who)
{
	if (se == SE_EXCL) {
		pp->m_excl = who;
		pp->m_rd_me = pp->m_rd_other = 0;
		pp->p_selock = (who == ORACLE_ME) ? SE_WRITER_ME :
		    SE_WRITER_OTHER;
	} else {
		if (who == ORACLE_ME)
			pp->m_rd_me++;
		else
			pp->m_rd_other++;
		pp->p_selock = SE_WANTED(pp) | (pp->m_rd_me + pp->m_rd_other);
	}
}

/* Scenario set-up: a thread waits for pp's exclusive lock. */
void
oracle_set_ewanted(page_t *pp)
{
	pp->p_selock |= SE_EWANTED;
}

static void
m_unlock(page_t *pp)
{
	if (SE_HOLDS(pp) == 0)
		oracle_mpanic("page_unlock: page %p is not locked", pp);
	if (pp->p_selock < 0) {
		pp->m_excl = ORACLE_NOBODY;
		pp->p_selock &= SE_EWANTED;
		return;
	}
	/* a shared hold: drop the caller's own hold first */
	if (pp->m_rd_me > 0)
		pp->m_rd_me--;
	else
		pp->m_rd_other--;
	pp->p_selock = SE_WANTED(pp) | (pp->m_rd_me + pp->m_rd_other);
}

/* page_trylock: fails whenever SE_EWANTED is set, in either mode. */
static int
m_trylock(page_t *pp, se_t se)
{
	if (SE_WANTED(pp))
		return (0);
	if (se == SE_EXCL ? pp->p_selock != 0 : pp->p_selock < 0)
		return (0);
	oracle_grant_lock(pp, se, ORACLE_ME);
	return (1);
}

/*
 * Exactly one reader and no SE_EWANTED (p_selock == SE_READER): it becomes
 * the caller's exclusive hold.
 */
static int
m_tryupgrade(page_t *pp)
{
	if (pp->p_selock != 1)
		return (0);
	pp->m_rd_me = pp->m_rd_other = 0;
	pp->m_excl = ORACLE_ME;
	pp->p_selock = SE_WRITER_ME;
	return (1);
}

/* One reader, the former writer; SE_EWANTED stays as it was. */
static void
m_downgrade(page_t *pp)
{
	int who = pp->m_excl;

	if (!PAGE_EXCL(pp))
		oracle_mpanic("assertion failed: %s", "PAGE_EXCL(pp)");
	pp->m_excl = ORACLE_NOBODY;
	pp->m_rd_me = (who == ORACLE_OTHER) ? 0 : 1;
	pp->m_rd_other = (who == ORACLE_OTHER) ? 1 : 0;
	pp->p_selock = SE_WANTED(pp) | 1;
}

/* ================================================================== */
/* Mutexes                                                             */
/* ================================================================== */

kmutex_t *
page_vnode_mutex(struct vnode *vp)
{
	return (&vp->m_vphm);
}

/* Returns 0 when the mutex is held by another thread. */
static int
m_mutex_enter(kmutex_t *mp)
{
	if (mp->m_owner == ORACLE_ME)
		oracle_mpanic("recursive mutex_enter, lp=%s", mutexname(mp));
	if (mp->m_owner == ORACLE_OTHER)
		return (0);
	mp->m_owner = ORACLE_ME;
	return (1);
}

static void
m_mutex_exit(kmutex_t *mp)
{
	if (mp->m_owner != ORACLE_ME)
		oracle_mpanic("mutex_exit: not owner, lp=%s", mutexname(mp));
	mp->m_owner = ORACLE_NOBODY;
}

void
mutex_enter(kmutex_t *mp)
{
	int t = oracle_trace_begin("mutex_enter(%s)", mutexname(mp));

	if (mp->m_owner == ORACLE_OTHER)
		oracle_wouldblock(t);
	(void) m_mutex_enter(mp);
	TR_VOID(t);
}

void
mutex_exit(kmutex_t *mp)
{
	int t = oracle_trace_begin("mutex_exit(%s)", mutexname(mp));

	m_mutex_exit(mp);
	TR_VOID(t);
}

/*
 * The only condition variable vm_pvn.c waits on is v_cv, for VVMLOCK.  With
 * VVMLOCK set (held by another thread) nobody will ever broadcast: would
 * block.  Without it the wait returns at once (a spurious wakeup).
 */
void
cv_wait(kcondvar_t *cv, kmutex_t *mp)
{
	int t = oracle_trace_begin("cv_wait(%s, %s)", cvname(cv),
	    mutexname(mp));

	if (cv->c_vp != NULL && (cv->c_vp->v_flag & VVMLOCK))
		oracle_wouldblock(t);
	TR_VOID(t);
}

void
cv_broadcast(kcondvar_t *cv)
{
	int t = oracle_trace_begin("cv_broadcast(%s)", cvname(cv));

	TR_VOID(t);
}

/* ================================================================== */
/* Hash and free/cache lists                                           */
/* ================================================================== */

static unsigned
hash_index(vnode_t *vp, u_offset_t off)
{
	return ((unsigned)(((uintptr_t)vp >> 4) * 31 + (off >> PAGESHIFT)) %
	    HASH_SIZE);
}

page_t *
oracle_hash_find(vnode_t *vp, u_offset_t off)
{
	page_t *pp;

	for (pp = hash_tab[hash_index(vp, off)]; pp != NULL; pp = pp->p_hash)
		if (pp->p_vnode == vp && pp->p_offset == off)
			return (pp);
	return (NULL);
}

static void
hash_insert(page_t *pp)
{
	unsigned i = hash_index(pp->p_vnode, pp->p_offset);

	pp->p_hash = hash_tab[i];
	hash_tab[i] = pp;
}

static void
hash_remove(page_t *pp)
{
	page_t **pq = &hash_tab[hash_index(pp->p_vnode, pp->p_offset)];

	while (*pq != NULL && *pq != pp)
		pq = &(*pq)->p_hash;
	if (*pq == pp)
		*pq = pp->p_hash;
	pp->p_hash = NULL;
}

/*
 * Give a page identity.  It goes to the head of v_pages, except that a
 * modified page of a VMODSORT vnode with other pages goes to the tail
 * (page_do_hashin; never the case for pages page_create_va makes).
 */
static void
m_hashin(page_t *pp, vnode_t *vp, u_offset_t off)
{
	pp->p_vnode = vp;
	pp->p_offset = off;
	if (vp->v_flag & VISSWAP)
		pp->p_state |= P_SWAP;
	hash_insert(pp);
	if (IS_VMODSORT(vp) && vp->v_pages != NULL && (pp->p_nrm & P_MOD))
		m_vpadd(&vp->v_pages->p_vpprev->p_vpnext, pp);
	else
		m_vpadd(&vp->v_pages, pp);
}

/* Scenario set-up: hash a page in at the tail of v_pages. */
void
oracle_hashin_tail(page_t *pp, vnode_t *vp, u_offset_t off)
{
	pp->p_vnode = vp;
	pp->p_offset = off;
	if (vp->v_flag & VISSWAP)
		pp->p_state |= P_SWAP;
	hash_insert(pp);
	if (vp->v_pages == NULL)
		m_vpadd(&vp->v_pages, pp);
	else
		m_vpadd(&vp->v_pages->p_vpprev->p_vpnext, pp);
}

/* Remove identity: hash chain, v_pages, software bits (page_hashout). */
static void
m_hashout(page_t *pp)
{
	vnode_t *vp = pp->p_vnode;

	hash_remove(pp);
	m_vpsub(&vp->v_pages, pp);
	pp->p_nrm &= ~(P_REF | P_MOD | P_RO);
	pp->p_state &= ~P_SWAP;
	pp->p_vnode = NULL;
	pp->p_offset = (u_offset_t)-1;
	pp->p_fsdata = 0;
	/* whoever wanted this identity exclusively no longer waits for it */
	pp->p_selock &= ~SE_EWANTED;
}

/* Free list: tail insertion, head removal. */
void
oracle_freelist_add(page_t *pp)
{
	pp->p_state |= P_FREE;
	pp->m_list = ORACLE_LIST_FREE;
	pp->p_offset = (u_offset_t)-1;
	if (free_head == NULL) {
		m_add(&free_head, pp);
	} else {
		page_t *head = free_head;

		m_add(&head, pp);	/* before the head = at the tail */
	}
	oracle_nfree++;
}

static void
freelist_remove(page_t *pp)
{
	m_sub(&free_head, pp);
	pp->m_list = ORACLE_LIST_NONE;
	oracle_nfree--;
}

/* Cache list: tail (normal) or head (dontneed) insertion. */
static void
cachelist_add(page_t *pp, int athead)
{
	pp->p_state |= P_FREE;
	pp->m_list = ORACLE_LIST_CACHE;
	if (oracle_cache_head == NULL || athead) {
		m_add(&oracle_cache_head, pp);
	} else {
		page_t *head = oracle_cache_head;

		m_add(&head, pp);
	}
}

void
oracle_cachelist_append(page_t *pp)
{
	cachelist_add(pp, 0);
}

static void
cachelist_remove(page_t *pp)
{
	m_sub(&oracle_cache_head, pp);
	pp->m_list = ORACLE_LIST_NONE;
}

/*
 * Forget every physical page, the free and cache lists and the hash, so
 * that a new state can be built (the benchmark rebuilds it between timed
 * runs; the oracle driver builds one state per process).  The vnodes,
 * segments and markers are the caller's and the kmem cache's business.
 */
void
oracle_reset_memory(void)
{
	free(oracle_phys);
	oracle_phys = NULL;
	oracle_nphys = 0;
	free_head = NULL;
	oracle_nfree = 0;
	oracle_cache_head = NULL;
	memset(hash_tab, 0, sizeof (hash_tab));
	freemem = 0;
}

void
oracle_alloc_phys(int n)
{
	oracle_phys = calloc(n > 0 ? n : 1, sizeof (page_t));
	if (oracle_phys == NULL) {
		fprintf(stderr, "pvn_oracle: out of memory\n");
		exit(3);
	}
	oracle_nphys = n;
	for (int i = 0; i < n; i++) {
		oracle_phys[i].m_phys = 1;
		oracle_phys[i].p_next = oracle_phys[i].p_prev = &oracle_phys[i];
		oracle_phys[i].p_vpnext = oracle_phys[i].p_vpprev =
		    &oracle_phys[i];
		oracle_phys[i].p_offset = (u_offset_t)-1;
	}
}

/* ================================================================== */
/* HAT: software bits, per-translation hardware bits, VMODSORT shuffle  */
/* ================================================================== */

/*
 * hat_page_setattr (x86): when every requested bit is already set nothing
 * happens; otherwise the bits are set and, if P_MOD was requested for a
 * VMODSORT page without P_NSH, the page moves after the current tail of
 * v_pages (unless it is alone there), under the vnode's page-list mutex.
 */
static void
m_setattr(page_t *pp, uint_t flag)
{
	vnode_t *vp = pp->p_vnode;
	kmutex_t *vphm = NULL;
	int noshuffle = flag & P_NSH;

	flag &= ~P_NSH;
	if ((pp->p_nrm & flag) == flag)
		return;
	if ((flag & P_MOD) && vp != NULL && IS_VMODSORT(vp) && !noshuffle) {
		vphm = page_vnode_mutex(vp);
		if (!m_mutex_enter(vphm))
			oracle_mpanic("hat_page_setattr: %s held by another "
			    "thread", mutexname(vphm));
	}
	pp->p_nrm |= flag;
	if (vphm != NULL) {
		if (pp->p_vpnext != pp) {
			m_vpsub(&vp->v_pages, pp);
			if (vp->v_pages != NULL)
				m_vpadd(&vp->v_pages->p_vpprev->p_vpnext, pp);
			else
				m_vpadd(&vp->v_pages, pp);
		}
		m_mutex_exit(vphm);
	}
}

/*
 * hat_page_clrattr (x86): clear software bits; clearing P_MOD of a VMODSORT
 * page then write-protects every writable translation, folding (through
 * m_setattr) the hardware bits the translation still had.
 */
static void
m_clrattr(page_t *pp, uint_t flag)
{
	vnode_t *vp = pp->p_vnode;
	int i;

	pp->p_nrm &= ~flag;
	if ((flag & P_MOD) && vp != NULL && IS_VMODSORT(vp)) {
		for (i = 0; i < pp->m_ntrans; i++) {
			struct oracle_trans *tr = &pp->m_trans[i];
			uint_t rm = tr->t_hw & (P_REF | P_MOD);

			if (!tr->t_writable)
				continue;
			tr->t_hw = 0;
			tr->t_writable = 0;
			if (rm)
				m_setattr(pp, rm);
		}
	}
}

static uint_t
m_getattr(page_t *pp, uint_t flag)
{
	return (pp->p_nrm & flag);
}

/* hat_pagesync (x86). */
static uint_t
m_pagesync(page_t *pp, uint_t flags)
{
	const uint_t nrmbits = P_REF | P_MOD | P_RO;
	const ulong_t po_share = 8;
	int i;

	if (!PAGE_LOCKED(pp))
		oracle_mpanic("assertion failed: %s",
		    "PAGE_LOCKED(pp) || panicstr");

	if ((pp->p_nrm & P_RO) && (flags & HAT_SYNC_STOPON_MOD))
		return (pp->p_nrm & nrmbits);

	if ((flags & HAT_SYNC_ZERORM) == 0) {
		if ((flags & HAT_SYNC_STOPON_REF) && (pp->p_nrm & P_REF))
			return (pp->p_nrm & nrmbits);
		if ((flags & HAT_SYNC_STOPON_MOD) && (pp->p_nrm & P_MOD))
			return (pp->p_nrm & nrmbits);
		if ((flags & HAT_SYNC_STOPON_SHARED) &&
		    (ulong_t)pp->m_ntrans > po_share) {
			if (pp->p_nrm & P_RO)
				pp->p_nrm |= P_REF;
			return (pp->p_nrm & nrmbits);
		}
	}

	for (i = 0; i < pp->m_ntrans; i++) {
		struct oracle_trans *tr = &pp->m_trans[i];
		uint_t rm = tr->t_hw & (P_REF | P_MOD);

		if (rm == 0)
			continue;
		if (flags & HAT_SYNC_ZERORM)
			tr->t_hw = 0;
		m_setattr(pp, rm);
		if (((flags & HAT_SYNC_STOPON_MOD) && (pp->p_nrm & P_MOD)) ||
		    ((flags & HAT_SYNC_STOPON_REF) && (pp->p_nrm & P_REF)))
			break;
	}
	return (pp->p_nrm & nrmbits);
}

/* hat_pageunload: fold each translation's bits, then drop them all. */
static int
m_pageunload(page_t *pp)
{
	if (!PAGE_EXCL(pp))
		oracle_mpanic("assertion failed: %s", "PAGE_EXCL(pp)");
	while (pp->m_ntrans > 0) {
		uint_t rm = pp->m_trans[0].t_hw & (P_REF | P_MOD);

		/* the translation goes first, then its bits are synced */
		memmove(&pp->m_trans[0], &pp->m_trans[1],
		    (pp->m_ntrans - 1) * sizeof (pp->m_trans[0]));
		pp->m_ntrans--;
		if (rm)
			m_setattr(pp, rm);
	}
	return (0);
}

/* ================================================================== */
/* Freeing and destroying                                              */
/* ================================================================== */

static void
m_page_free(page_t *pp, int dontneed)
{
	if (!(PAGE_EXCL(pp) && !(pp->p_iolock_state & PAGE_IO_INUSE)))
		oracle_mpanic("assertion failed: %s",
		    "(PAGE_EXCL(pp) && !page_iolock_assert(pp)) || panicstr");
	if (PP_ISFREE(pp))
		oracle_mpanic("page_free: page %p is free", pp);
	if (pp->m_ntrans != 0 || pp->p_lckcnt != 0 || pp->p_cowcnt != 0)
		oracle_mpanic("page_free pp=%p, mapped=%d, lckcnt=%d, "
		    "cowcnt=%d", pp, pp->m_ntrans, (int)pp->p_lckcnt,
		    (int)pp->p_cowcnt);
	/* A DEBUG illumos asserts a VMODSORT page is clean when freed. */
	if (pp->p_vnode != NULL && IS_VMODSORT(pp->p_vnode) &&
	    (pp->p_nrm & P_MOD))
		oracle_mpanic("assertion failed: %s", "pp->p_vnode == NULL || "
		    "!IS_VMODSORT(pp->p_vnode) || !hat_ismod(pp)");

	pp->p_nrm &= ~(P_REF | P_MOD | P_RO);
	if (pp->p_vnode == NULL)
		oracle_freelist_add(pp);
	else
		cachelist_add(pp, dontneed != 0);
	m_unlock(pp);
	freemem += 1;
}

static void
m_page_destroy(page_t *pp, int dontfree)
{
	if (!(PAGE_EXCL(pp) && !(pp->p_iolock_state & PAGE_IO_INUSE)))
		oracle_mpanic("assertion failed: %s",
		    "(PAGE_EXCL(pp) && !page_iolock_assert(pp)) || panicstr");
	(void) m_pageunload(pp);
	m_hashout(pp);
	if (!dontfree) {
		pp->p_lckcnt = 0;
		pp->p_cowcnt = 0;
		m_page_free(pp, 0);
	}
}

/* fs_dispose, the default VOP_DISPOSE. */
static void
m_dispose(page_t *pp, int fl, int dn)
{
	if (!(fl == B_FREE || fl == B_INVAL))
		oracle_mpanic("assertion failed: %s",
		    "fl == B_FREE || fl == B_INVAL");
	if (fl == B_FREE)
		m_page_free(pp, dn);
	else
		m_page_destroy(pp, dn);
}

/* page_release as in the newest vm_page.c (tests hat_ismod). */
static int
m_page_release(page_t *pp, int checkmod)
{
	if (!(PAGE_LOCKED(pp) && !PP_ISFREE(pp) && pp->p_vnode != NULL))
		oracle_mpanic("assertion failed: %s",
		    "PAGE_LOCKED(pp) && !PP_ISFREE(pp) && "
		    "(pp->p_vnode != NULL)");

	if (pp->m_ntrans == 0 && !IS_SWAPVP(pp->p_vnode) &&
	    ((PAGE_SHARED(pp) && m_tryupgrade(pp)) || PAGE_EXCL(pp)) &&
	    pp->p_lckcnt == 0 && pp->p_cowcnt == 0 && pp->m_ntrans == 0) {
		if (checkmod && m_getattr(pp, P_MOD)) {
			m_unlock(pp);
			return (PGREL_MOD);
		}
		m_dispose(pp, B_FREE, 0);
		return (PGREL_CLEAN);
	}
	m_unlock(pp);
	return (PGREL_NOTREL);
}

/* ================================================================== */
/* page_create_va                                                      */
/* ================================================================== */

/*
 * A physical page for page_create_va: the free list head, else the first
 * page from the head of the cache list that page_trylock(pp, SE_EXCL) would
 * take (not locked, not wanted exclusively), as vm_pagelist.c's
 * page_get_mnode_cachelist does; it loses its identity at once.  The page
 * comes back EXCL-locked by the caller.
 */
static page_t *
take_physical_page(void)
{
	page_t *pp;

	if (free_head != NULL) {
		pp = free_head;
		freelist_remove(pp);
	} else {
		pp = oracle_cache_head;
		if (pp != NULL) {
			do {
				if (pp->p_selock == 0)
					break;
				pp = pp->p_next;
			} while (pp != oracle_cache_head);
			if (pp->p_selock != 0)
				pp = NULL;
		}
		if (pp == NULL)
			oracle_mpanic("page_create_va: no free page");
		cachelist_remove(pp);
		oracle_grant_lock(pp, SE_EXCL, ORACLE_ME);
		m_hashout(pp);
		pp->p_state &= ~P_FREE;
		return (pp);
	}
	oracle_grant_lock(pp, SE_EXCL, ORACLE_ME);
	pp->p_state &= ~P_FREE;
	return (pp);
}

static void
give_back_spare(page_t *npp)
{
	m_unlock(npp);
	oracle_freelist_add(npp);
}

page_t *
page_create_va(struct vnode *vp, u_offset_t off, size_t bytes, uint_t flags,
    struct seg *seg, caddr_t vaddr)
{
	int t = oracle_trace_begin("page_create_va(%s, 0x%llx, %zu, %s, %s, %s)",
	    oracle_vname(vp), (unsigned long long)off, bytes,
	    oracle_flags(flags, oracle_pg_flags), oracle_segname(seg),
	    addrname(vaddr));
	pgcnt_t npages = btopr(bytes), i, found_on_free = 0;
	pgcnt_t entry_freemem = freemem;
	page_t *plist = NULL, *npp = NULL, *pp;

	if ((flags & (PG_EXCL | PG_WAIT)) == 0)
		oracle_mpanic("page_create: invalid flags");

	/* memory accounting first: throttle, then reserve */
	if (freemem <= throttlefree + npages) {
		if (flags & PG_WAIT) {
			if (freemem < npages + throttlefree)
				oracle_wouldblock(t);
		} else if (freemem < npages + pageout_reserve) {
			oracle_trace_end(t, "NULL");
			return (NULL);
		}
	}
	if (freemem < npages) {
		if (flags & PG_WAIT)
			oracle_wouldblock(t);
		oracle_trace_end(t, "NULL");
		return (NULL);
	}
	freemem -= npages;

	for (i = 0; i < npages; i++, off += PAGESIZE) {
		if (npp == NULL)
			npp = take_physical_page();
		pp = oracle_hash_find(vp, off);
		if (pp == NULL) {
			pp = npp;
			npp = NULL;
			m_hashin(pp, vp, off);
			pp->p_nrm |= P_REF;
			found_on_free++;
		} else if (flags & PG_EXCL) {
			/* undo what this call created, then fail */
			while (plist != NULL) {
				page_t *q = plist;

				m_sub(&plist, q);
				q->p_iolock_state &= ~PAGE_IO_INUSE;
				m_dispose(q, B_INVAL, 0);
			}
			goto fail;
		} else {
			if (!m_lock_grantable(pp, SE_EXCL)) {
				/* undo like the failure above, then block */
				while (plist != NULL) {
					page_t *q = plist;

					m_sub(&plist, q);
					q->p_iolock_state &= ~PAGE_IO_INUSE;
					m_dispose(q, B_INVAL, 0);
				}
				if (npp != NULL)
					give_back_spare(npp);
				freemem = entry_freemem;
				oracle_wouldblock(t);
			}
			oracle_grant_lock(pp, SE_EXCL, ORACLE_ME);
			if (PP_ISFREE(pp)) {
				cachelist_remove(pp);
				pp->p_state &= ~P_FREE;
				found_on_free++;
			}
		}
		pp->p_iolock_state |= PAGE_IO_INUSE;
		m_add(&plist, pp);
		plist = plist->p_next;
	}
fail:
	if (npp != NULL)
		give_back_spare(npp);
	freemem += npages - found_on_free;	/* the unused reservation */
	oracle_trace_end(t, "%s", oracle_pname(plist));
	return (plist);
}

/* ================================================================== */
/* Traced list primitives                                              */
/* ================================================================== */

void
page_add(page_t **ppp, page_t *pp)
{
	int t = oracle_trace_begin("page_add(%s, %s)", oracle_pname(*ppp),
	    oracle_pname(pp));

	if (pp == NULL)
		oracle_mpanic("page_add: bad arg(s): pp NULL");
	if (!(PAGE_EXCL(pp) || (PAGE_SHARED(pp) &&
	    (pp->p_iolock_state & PAGE_IO_INUSE))))
		oracle_mpanic("assertion failed: %s", "PAGE_EXCL(pp) || "
		    "(PAGE_SHARED(pp) && page_iolock_assert(pp))");
	m_add(ppp, pp);
	oracle_trace_end(t, "%s", oracle_pname(*ppp));
}

void
page_sub(page_t **ppp, page_t *pp)
{
	int t = oracle_trace_begin("page_sub(%s, %s)", oracle_pname(*ppp),
	    oracle_pname(pp));

	if (*ppp == NULL || pp == NULL)
		oracle_mpanic("page_sub: bad arg(s): pp %p, *ppp %p", pp,
		    *ppp);
	if (!(PP_ISFREE(pp) || PAGE_EXCL(pp) || (PAGE_SHARED(pp) &&
	    (pp->p_iolock_state & PAGE_IO_INUSE))))
		oracle_mpanic("assertion failed: %s", "(PP_ISFREE(pp)) ? 1 : "
		    "(PAGE_EXCL(pp)) || (PAGE_SHARED(pp) && "
		    "page_iolock_assert(pp))");
	m_sub(ppp, pp);
	oracle_trace_end(t, "%s", oracle_pname(*ppp));
}

void
page_vpadd(page_t **ppp, page_t *pp)
{
	int t = oracle_trace_begin("page_vpadd(%s, %s)", linkname(ppp),
	    oracle_pname(pp));

	m_vpadd(ppp, pp);
	TR_VOID(t);
}

void
page_vpsub(page_t **ppp, page_t *pp)
{
	int t = oracle_trace_begin("page_vpsub(%s, %s)", linkname(ppp),
	    oracle_pname(pp));

	if (*ppp == NULL || pp == NULL)
		oracle_mpanic("page_vpsub: bad arg(s): pp %p, *ppp %p", pp,
		    *ppp);
	m_vpsub(ppp, pp);
	TR_VOID(t);
}

/* ================================================================== */
/* Traced lookup and lock primitives                                   */
/* ================================================================== */

page_t *
page_lookup_nowait(struct vnode *vp, u_offset_t off, se_t se)
{
	int t = oracle_trace_begin("page_lookup_nowait(%s, 0x%llx, %s)",
	    oracle_vname(vp), (unsigned long long)off, sename(se));
	page_t *pp = oracle_hash_find(vp, off);

	/* free (cached) pages are never reclaimed here */
	if (pp != NULL && (PP_ISFREE(pp) || !m_trylock(pp, se)))
		pp = NULL;
	oracle_trace_end(t, "%s", oracle_pname(pp));
	return (pp);
}

int
page_lock(page_t *pp, se_t se, kmutex_t *lock, reclaim_t reclaim)
{
	int t = oracle_trace_begin("page_lock(%s, %s, %s, %s)",
	    oracle_pname(pp), sename(se), mutexname(lock),
	    reclaim == P_NO_RECLAIM ? "P_NO_RECLAIM" : "P_RECLAIM");

	if (!m_lock_grantable(pp, se))
		oracle_wouldblock(t);	/* before `lock' is dropped */

	if (reclaim == P_RECLAIM && PP_ISFREE(pp)) {
		/*
		 * Reclaim from the free/cache list (never done by vm_pvn.c):
		 * take the page EXCL, pull it off its list, give it P_REF.
		 */
		if (se == SE_SHARED && pp->p_selock != 0)
			oracle_wouldblock(t);
		if (freemem == 0)
			oracle_wouldblock(t);
		oracle_grant_lock(pp, SE_EXCL, ORACLE_ME);
		if (pp->m_list == ORACLE_LIST_CACHE)
			cachelist_remove(pp);
		else
			freelist_remove(pp);
		pp->p_state &= ~P_FREE;
		pp->p_nrm |= P_REF;
		freemem -= 1;
		if (se == SE_SHARED)
			m_downgrade(pp);
	} else {
		oracle_grant_lock(pp, se, ORACLE_ME);
	}
	oracle_trace_end(t, "1");
	return (1);
}

int
page_trylock(page_t *pp, se_t se)
{
	int t = oracle_trace_begin("page_trylock(%s, %s)", oracle_pname(pp),
	    sename(se));
	int r = m_trylock(pp, se);

	oracle_trace_end(t, "%d", r);
	return (r);
}

void
page_unlock(page_t *pp)
{
	int t = oracle_trace_begin("page_unlock(%s)", oracle_pname(pp));

	m_unlock(pp);
	TR_VOID(t);
}

int
page_tryupgrade(page_t *pp)
{
	int t = oracle_trace_begin("page_tryupgrade(%s)", oracle_pname(pp));
	int r = m_tryupgrade(pp);

	oracle_trace_end(t, "%d", r);
	return (r);
}

void
page_downgrade(page_t *pp)
{
	int t = oracle_trace_begin("page_downgrade(%s)", oracle_pname(pp));

	m_downgrade(pp);
	TR_VOID(t);
}

/* The i/o lock: one bit, not owner-tracked, not recursive. */
void
page_io_lock(page_t *pp)
{
	int t = oracle_trace_begin("page_io_lock(%s)", oracle_pname(pp));

	if (pp->p_iolock_state & PAGE_IO_INUSE)
		oracle_wouldblock(t);
	pp->p_iolock_state |= PAGE_IO_INUSE;
	TR_VOID(t);
}

int
page_io_trylock(page_t *pp)
{
	int t = oracle_trace_begin("page_io_trylock(%s)", oracle_pname(pp));
	int r = 0;

	if (!(pp->p_iolock_state & PAGE_IO_INUSE)) {
		pp->p_iolock_state |= PAGE_IO_INUSE;
		r = 1;
	}
	oracle_trace_end(t, "%d", r);
	return (r);
}

void
page_io_unlock(page_t *pp)
{
	int t = oracle_trace_begin("page_io_unlock(%s)", oracle_pname(pp));

	pp->p_iolock_state &= ~PAGE_IO_INUSE;
	TR_VOID(t);
}

void
page_io_wait(page_t *pp)
{
	int t = oracle_trace_begin("page_io_wait(%s)", oracle_pname(pp));

	if (pp->p_iolock_state & PAGE_IO_INUSE)
		oracle_wouldblock(t);
	TR_VOID(t);
}

int
page_io_locked(page_t *pp)
{
	int t = oracle_trace_begin("page_io_locked(%s)", oracle_pname(pp));
	int r = (pp->p_iolock_state & PAGE_IO_INUSE) ? 1 : 0;

	oracle_trace_end(t, "%d", r);
	return (r);
}

/* Used only inside ASSERT expressions: not traced. */
int
page_iolock_assert(page_t *pp)
{
	return ((pp->p_iolock_state & PAGE_IO_INUSE) ? 1 : 0);
}

int
page_release(page_t *pp, int checkmod)
{
	int t = oracle_trace_begin("page_release(%s, %d)", oracle_pname(pp),
	    checkmod);
	int r = m_page_release(pp, checkmod);

	oracle_trace_end(t, "%s", pgrelname(r));
	return (r);
}

/* A cached page loses its identity and moves to the free list. */
void
page_destroy_free(page_t *pp)
{
	int t = oracle_trace_begin("page_destroy_free(%s)", oracle_pname(pp));

	if (!PAGE_EXCL(pp))
		oracle_mpanic("assertion failed: %s", "PAGE_EXCL(pp)");
	if (!PP_ISFREE(pp))
		oracle_mpanic("assertion failed: %s", "PP_ISFREE(pp)");
	if (pp->p_vnode == NULL)
		oracle_mpanic("assertion failed: %s", "pp->p_vnode");
	/* A DEBUG vm_page.c also insists the page is clean and unmapped. */
	if ((pp->p_nrm & (P_MOD | P_REF | P_RO)) != 0)
		oracle_mpanic("assertion failed: %s",
		    "hat_page_getattr(pp, P_MOD | P_REF | P_RO) == 0");
	if (pp->m_ntrans != 0)
		oracle_mpanic("assertion failed: %s", "!hat_page_is_mapped(pp)");
	m_hashout(pp);
	cachelist_remove(pp);
	oracle_freelist_add(pp);
	m_unlock(pp);
	TR_VOID(t);
}

void
oracle_vn_dispose(page_t *pp, int fl, int dn, cred_t *cr)
{
	int t = oracle_trace_begin("VN_DISPOSE(%s, %s, %d)", oracle_pname(pp),
	    oracle_flags((unsigned long)(uint_t)fl, oracle_buf_flags), dn);

	(void) cr;
	m_dispose(pp, fl, dn);
	TR_VOID(t);
}

/* ================================================================== */
/* Traced HAT primitives                                               */
/* ================================================================== */

uint_t
hat_pagesync(page_t *pp, uint_t flags)
{
	int t = oracle_trace_begin("hat_pagesync(%s, %s)", oracle_pname(pp),
	    oracle_flags(flags, oracle_sync_flags));
	uint_t r = m_pagesync(pp, flags);

	oracle_trace_end(t, "%s", oracle_flags(r, oracle_attr_flags));
	return (r);
}

int
hat_pageunload(page_t *pp, uint_t forceflag)
{
	int t = oracle_trace_begin("hat_pageunload(%s, %s)", oracle_pname(pp),
	    forceflag == HAT_FORCE_PGUNLOAD ? "HAT_FORCE_PGUNLOAD" :
	    forceflag == HAT_CURPROC_PGUNLOAD ? "HAT_CURPROC_PGUNLOAD" :
	    "HAT_ADV_PGUNLOAD");
	int r = m_pageunload(pp);

	oracle_trace_end(t, "%d", r);
	return (r);
}

uint_t
hat_page_getattr(page_t *pp, uint_t flag)
{
	int t = oracle_trace_begin("hat_page_getattr(%s, %s)",
	    oracle_pname(pp), oracle_flags(flag, oracle_attr_flags));
	uint_t r = m_getattr(pp, flag);

	oracle_trace_end(t, "%s", oracle_flags(r, oracle_attr_flags));
	return (r);
}

uint_t
oracle_hat_ismod(page_t *pp)
{
	int t = oracle_trace_begin("hat_ismod(%s)", oracle_pname(pp));
	uint_t r = m_getattr(pp, P_MOD);

	oracle_trace_end(t, "%s", oracle_flags(r, oracle_attr_flags));
	return (r);
}

void
oracle_hat_setmod_only(page_t *pp)
{
	int t = oracle_trace_begin("hat_setmod_only(%s)", oracle_pname(pp));

	m_setattr(pp, P_MOD | P_NSH);
	TR_VOID(t);
}

void
oracle_hat_clrrefmod(page_t *pp)
{
	int t = oracle_trace_begin("hat_clrrefmod(%s)", oracle_pname(pp));

	m_clrattr(pp, P_REF | P_MOD);
	TR_VOID(t);
}

ulong_t
oracle_hat_page_is_mapped(page_t *pp)
{
	int t = oracle_trace_begin("hat_page_is_mapped(%s)", oracle_pname(pp));
	ulong_t r = (ulong_t)pp->m_ntrans;

	oracle_trace_end(t, "%lu", r);
	return (r);
}

int
hat_supported(enum hat_features feature, void *arg)
{
	int t = oracle_trace_begin("hat_supported(%s)",
	    feature == HAT_VMODSORT ? "HAT_VMODSORT" :
	    feature == HAT_SHARED_PT ? "HAT_SHARED_PT" :
	    feature == HAT_DYNAMIC_ISM_UNMAP ? "HAT_DYNAMIC_ISM_UNMAP" :
	    "HAT_SHARED_REGIONS");
	int r;

	(void) arg;
	switch (feature) {
	case HAT_SHARED_PT:
		r = 1;
		break;
	case HAT_VMODSORT:
		r = oracle_hat_vmodsort ? 1 : 0;
		break;
	default:
		r = 0;
		break;
	}
	oracle_trace_end(t, "%d", r);
	return (r);
}

/* ================================================================== */
/* Segments and segmap                                                 */
/* ================================================================== */

int
oracle_segop_kluster(struct seg *seg, caddr_t addr, ssize_t delta)
{
	int t = oracle_trace_begin("SEGOP_KLUSTER(%s, %s, %ld)",
	    oracle_segname(seg), addrname(addr), (long)delta);
	int r = 0;

	if (seg == NULL)
		oracle_mpanic("SEGOP_KLUSTER: NULL seg");
	switch (seg->m_kind) {
	case ORACLE_SEG_SEGVN: {
		uintptr_t a = (uintptr_t)addr + (uintptr_t)delta;
		uintptr_t base = (uintptr_t)seg->s_base;

		if (a < base || a >= base + seg->s_size)
			r = -1;
		else if (seg->m_advice == ORACLE_ADV_RANDOM)
			r = -1;
		else if (seg->m_advice == ORACLE_ADV_SEQUENTIAL && delta < 0)
			r = -1;
		break;
	}
	case ORACLE_SEG_SEGMAP:
		r = 0;
		break;
	case ORACLE_SEG_REFUSE: {
		int i;

		for (i = 0; i < seg->m_ndeltas; i++)
			if (seg->m_deltas[i] == (long)delta)
				r = -1;
		break;
	}
	}
	oracle_trace_end(t, "%d", r);
	return (r);
}

#define	SEGMAP_FAKE_BASE	0x100000000ULL

caddr_t
segmap_getmapflt(struct seg *seg, struct vnode *vp, u_offset_t off,
    size_t len, int forcefault, enum seg_rw rw)
{
	int t = oracle_trace_begin("segmap_getmapflt(%s, %s, 0x%llx, %zu, %d, "
	    "%s)", oracle_segname(seg), oracle_vname(vp),
	    (unsigned long long)off, len, forcefault, rwname(rw));
	u_offset_t baseoff = off & (u_offset_t)MAXBMASK;
	caddr_t addr;

	if (off + len > baseoff + MAXBSIZE)
		oracle_mpanic("segmap_getmap bad len");
	/* the fault-in would call VOP_GETPAGE, which does nothing here */
	addr = (caddr_t)(uintptr_t)(SEGMAP_FAKE_BASE + baseoff);
	oracle_trace_end(t, "%s", addrname(addr));
	return (addr);
}

int
segmap_release(struct seg *seg, caddr_t addr, uint_t flags)
{
	int t = oracle_trace_begin("segmap_release(%s, %s, %s)",
	    oracle_segname(seg), addrname(addr),
	    oracle_flags(flags, oracle_sm_flags));

	/* the VOP_PUTPAGE it may call does nothing and returns 0 */
	oracle_trace_end(t, "0");
	return (0);
}

int
kzero(void *addr, size_t len)
{
	int t = oracle_trace_begin("kzero(%s, %zu)", addrname(addr), len);

	TR_VOID(t);
	return (0);
}

/* ================================================================== */
/* kmem cache (only the marker cache exists)                           */
/* ================================================================== */

struct kmem_cache {
	char	name[32];
	size_t	size;
	int	(*ctor)(void *, void *, int);
	void	*freed[MAXMARKERS];	/* LIFO of freed objects */
	int	nfreed;
};

struct kmem_cache *
kmem_cache_create(char *name, size_t size, size_t align,
    int (*ctor)(void *, void *, int), void (*dtor)(void *, void *),
    void (*reclaim)(void *), void *priv, void *vmp, int cflags)
{
	struct kmem_cache *cp = calloc(1, sizeof (*cp));

	(void) align; (void) dtor; (void) reclaim; (void) priv; (void) vmp;
	(void) cflags;
	if (cp == NULL) {
		fprintf(stderr, "pvn_oracle: out of memory\n");
		exit(3);
	}
	snprintf(cp->name, sizeof (cp->name), "%s", name);
	cp->size = size;
	cp->ctor = ctor;
	return (cp);
}

/*
 * A freed object is handed out again, last freed first, in the state it was
 * freed in; a new object is built (by the constructor) only when none is
 * free.
 */
void *
kmem_cache_alloc(struct kmem_cache *cp, int kmflags)
{
	int t = oracle_trace_begin("kmem_cache_alloc(%s)", cp->name);
	void *buf;

	if (cp->nfreed > 0) {
		buf = cp->freed[--cp->nfreed];
	} else {
		if (nmarkers == MAXMARKERS)
			oracle_mpanic("kmem_cache_alloc: model limit reached");
		buf = calloc(1, cp->size);
		if (buf == NULL) {
			fprintf(stderr, "pvn_oracle: out of memory\n");
			exit(3);
		}
		markers[nmarkers++] = buf;
		if (cp->ctor != NULL)
			(void) cp->ctor(buf, NULL, kmflags);
	}
	oracle_trace_end(t, "%s", oracle_pname(buf));
	return (buf);
}

void
kmem_cache_free(struct kmem_cache *cp, void *buf)
{
	int t = oracle_trace_begin("kmem_cache_free(%s, %s)", cp->name,
	    oracle_pname(buf));

	if (cp->nfreed == MAXMARKERS)
		oracle_mpanic("kmem_cache_free: model limit reached");
	cp->freed[cp->nfreed++] = buf;
	TR_VOID(t);
}
