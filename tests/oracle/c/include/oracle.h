/*
 * oracle.h - the one header behind every shadowed kernel include.
 *
 * The pvnsim fidelity oracle compiles the unmodified illumos vm_pvn.c in
 * user space.  vm_pvn.c includes some thirty kernel headers; each of them is
 * shadowed in this directory by a two-line file that includes this one.  Here
 * we first pull in the real C library headers we need, then define the kernel
 * types, constants and macros vm_pvn.c uses (values from illumos, see
 * ../shared/illumos/semantics.md section 2), and declare the primitives that
 * model.c implements.
 *
 * Nothing here is copied from illumos headers; it is written from the
 * documented contracts.
 */
#ifndef ORACLE_H
#define ORACLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include <setjmp.h>
#include <limits.h>

/* ------------------------------------------------------------------ */
/* Basic kernel types (LP64 illumos).                                  */
/* ------------------------------------------------------------------ */

typedef unsigned char		uchar_t;
typedef unsigned short		ushort_t;
typedef unsigned int		uint_t;
typedef unsigned long		ulong_t;
typedef unsigned long long	u_offset_t;
typedef long long		offset_t;
typedef unsigned long		pgcnt_t;
typedef long			spgcnt_t;
typedef unsigned long		pfn_t;
typedef int			selock_t;

/* caddr_t (char *), size_t and ssize_t come from the C library. */

typedef enum { SE_SHARED = 0, SE_EXCL = 1 } se_t;
typedef enum { P_RECLAIM = 0, P_NO_RECLAIM = 1 } reclaim_t;

enum seg_rw {
	S_OTHER = 0, S_READ = 1, S_WRITE = 2, S_EXEC = 3, S_CREATE = 4,
	S_READ_NOCOW = 5
};

enum hat_features {
	HAT_SHARED_PT = 0, HAT_DYNAMIC_ISM_UNMAP = 1, HAT_VMODSORT = 2,
	HAT_SHARED_REGIONS = 3
};

typedef enum vtype {
	VNON = 0, VREG = 1, VDIR = 2, VBLK = 3, VCHR = 4, VLNK = 5, VFIFO = 6,
	VDOOR = 7, VPROC = 8, VSOCK = 9, VPORT = 10, VBAD = 11
} vtype_t;

/* ------------------------------------------------------------------ */
/* Locks.  Every holder is either the calling thread ("me") or some    */
/* other thread that never runs ("other").                             */
/* ------------------------------------------------------------------ */

#define	ORACLE_NOBODY	0
#define	ORACLE_ME	1
#define	ORACLE_OTHER	2

#define	ORACLE_MUTEX_V_LOCK	1
#define	ORACLE_MUTEX_VPHM	2

struct vnode;

typedef struct kmutex {
	int		m_owner;	/* ORACLE_NOBODY / _ME / _OTHER */
	int		m_kind;		/* ORACLE_MUTEX_* (for rendering) */
	struct vnode	*m_vp;		/* vnode the mutex belongs to */
} kmutex_t;

typedef struct kcondvar {
	struct vnode	*c_vp;		/* vnode whose v_cv this is */
} kcondvar_t;

typedef struct cred {
	int		cr_dummy;
} cred_t;

extern cred_t *kcred;

/* ------------------------------------------------------------------ */
/* Numeric constants (semantics.md section 2).                         */
/* ------------------------------------------------------------------ */

/* sys/buf.h b_flags */
#define	B_BUSY		0x0001
#define	B_DONE		0x0002
#define	B_ERROR		0x0004
#define	B_PAGEIO	0x0010
#define	B_PHYS		0x0020
#define	B_READ		0x0040
#define	B_WANTED	0x0080
#define	B_WRITE		0x0100
#define	B_AGE		0x0200
#define	B_ASYNC		0x0400
#define	B_DELWRI	0x0800
#define	B_STALE		0x1000
#define	B_DONTNEED	0x2000
#define	B_REMAPPED	0x4000
#define	B_FREE		0x8000
#define	B_INVAL		0x10000
#define	B_FORCE		0x20000
#define	B_NOCACHE	0x80000
#define	B_TRUNC		0x100000
#define	B_SHADOW	0x200000
#define	B_RETRYWRI	0x400000
#define	B_FAILFAST	0x1000000
#define	B_STARTED	0x2000000
#define	B_ABRWRITE	0x4000000

/* vm/page.h page_create flags */
#define	PG_EXCL		0x0001
#define	PG_WAIT		0x0002
#define	PG_PHYSCONTIG	0x0004
#define	PG_MATCH_COLOR	0x0008
#define	PG_NORELOC	0x0010
#define	PG_PANIC	0x0020
#define	PG_PUSHPAGE	0x0040
#define	PG_LOCAL	0x0080
#define	PG_NORMALPRI	0x0100

/* page_release results */
#define	PGREL_NOTREL	0x1
#define	PGREL_CLEAN	0x2
#define	PGREL_MOD	0x3

/* p_selock encoding */
#define	SE_EWANTED	0x40000000
#define	SE_WRITER_ME	((int)(0x80000000u | ORACLE_ME))
#define	SE_WRITER_OTHER	((int)(0x80000000u | ORACLE_OTHER))

/* p_iolock_state */
#define	PAGE_IO_INUSE	0x1
#define	PAGE_IO_WANTED	0x2

/* p_state */
#define	P_FREE		0x80
#define	P_NORELOC	0x40
#define	P_MIGRATE	0x20
#define	P_SWAP		0x10
#define	P_BOOTPAGES	0x08

/* vm/hat.h */
#define	HAT_SYNC_DONTZERO	0x00
#define	HAT_SYNC_ZERORM		0x01
#define	HAT_SYNC_STOPON_REF	0x02
#define	HAT_SYNC_STOPON_MOD	0x04
#define	HAT_SYNC_STOPON_RM	0x06
#define	HAT_SYNC_STOPON_SHARED	0x08

#define	HAT_ADV_PGUNLOAD	0x00
#define	HAT_FORCE_PGUNLOAD	0x01
#define	HAT_CURPROC_PGUNLOAD	0x02

#define	P_MOD	0x01
#define	P_REF	0x02
#define	P_RO	0x04
#define	P_NSH	0x08

/* sys/vnode.h v_flag */
#define	VROOT		0x01
#define	VNOCACHE	0x02
#define	VNOMAP		0x04
#define	VDUP		0x08
#define	VNOSWAP		0x10
#define	VNOMOUNT	0x20
#define	VISSWAP		0x40
#define	VSWAPLIKE	0x80
#define	VVFSLOCK	0x100
#define	VVFSWAIT	0x200
#define	VVMLOCK		0x400
#define	VDIROPEN	0x800
#define	VVMEXEC		0x1000
#define	VPXFS		0x2000
#define	V_XATTRDIR	0x4000
#define	V_LOCALITY	0x8000
#define	VMODSORT	0x10000
#define	VISSWAPFS	0x20000
#define	V_SYSATTR	0x40000
#define	VTRAVERSE	0x80000

/* vm/seg_map.h */
#define	SM_WRITE	0x01
#define	SM_ASYNC	0x02
#define	SM_FREE		0x04
#define	SM_INVAL	0x08
#define	SM_DONTNEED	0x10
#define	SM_DESTROY	0x20
#define	SM_PAGECREATE	0x00
#define	SM_FAULT	0x01
#define	SM_LOCKPROTO	0x02

/* sizes */
#define	MAXBSIZE	8192
#define	MAXBSHIFT	13
#define	MAXBOFFSET	(MAXBSIZE - 1)
#define	MAXBMASK	(~MAXBOFFSET)
#define	DEV_BSIZE	512
#define	DEV_BSHIFT	9

/* sys/kmem.h */
#define	KM_SLEEP	0x0000
#define	KM_NOSLEEP	0x0001

/*
 * The page size is a kernel variable, as in illumos (_pagesize and friends);
 * the driver sets it from the scenario before anything runs.
 */
extern long			_pagesize;
extern uint_t			_pageshift;
extern long			_pageoffset;
extern unsigned long long	_pagemask;
#define	PAGESIZE	_pagesize
#define	PAGESHIFT	_pageshift
#define	PAGEOFFSET	_pageoffset
#define	PAGEMASK	_pagemask

#define	btop(x)		(((pgcnt_t)(x)) >> PAGESHIFT)
#define	btopr(x)	((((pgcnt_t)(x) + PAGEOFFSET) >> PAGESHIFT))
#define	ptob(x)		(((pgcnt_t)(x)) << PAGESHIFT)

#ifndef MIN
#define	MIN(a, b)	((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define	MAX(a, b)	((a) < (b) ? (b) : (a))
#endif

/* ------------------------------------------------------------------ */
/* Objects.                                                            */
/* ------------------------------------------------------------------ */

#define	ORACLE_MAXTRANS	16	/* translations per page in the model */

/* one translation: hardware bits (P_REF/P_MOD) and writability */
struct oracle_trans {
	uchar_t	t_hw;		/* P_REF | P_MOD as the MMU would set them */
	uchar_t	t_writable;
};

typedef struct page {
	u_offset_t		p_offset;
	struct vnode		*p_vnode;
	selock_t		p_selock;
	struct page		*p_hash;	/* hash chain, or the marker tag */
	struct page		*p_vpnext;
	struct page		*p_vpprev;
	struct page		*p_next;
	struct page		*p_prev;
	ushort_t		p_lckcnt;
	ushort_t		p_cowcnt;
	uchar_t			p_iolock_state;
	uchar_t			p_state;
	uchar_t			p_nrm;
	uchar_t			p_szc;
	uchar_t			p_fsdata;

	/* ---- model state, not in the illumos page_t ---- */
	int			m_phys;		/* 1: a physical page of the model */
	int			m_excl;		/* ORACLE_ME/_OTHER when EXCL held */
	int			m_rd_me;	/* shared holds of the caller */
	int			m_rd_other;	/* shared holds of others */
	int			m_list;		/* ORACLE_LIST_* */
	int			m_ntrans;
	struct oracle_trans	m_trans[ORACLE_MAXTRANS];
} page_t;

#define	ORACLE_LIST_NONE	0
#define	ORACLE_LIST_FREE	1
#define	ORACLE_LIST_CACHE	2

#define	PVN_VPLIST_HASH_TAG	((page_t *)-1)

struct vfs;

typedef struct vnode {
	kmutex_t	v_lock;
	uint_t		v_flag;
	uint_t		v_count;
	vtype_t		v_type;
	struct page	*v_pages;
	kcondvar_t	v_cv;
	struct vfs	*v_vfsp;

	/* ---- model state ---- */
	char		m_name[32];
	int		m_index;	/* scenario order */
	kmutex_t	m_vphm;		/* page_vnode_mutex(vp) */
} vnode_t;

struct as {
	int	a_dummy;
};

#define	ORACLE_SEG_SEGVN	1
#define	ORACLE_SEG_SEGMAP	2
#define	ORACLE_SEG_REFUSE	3

#define	ORACLE_ADV_NORMAL	0
#define	ORACLE_ADV_RANDOM	1
#define	ORACLE_ADV_SEQUENTIAL	2

#define	ORACLE_MAXDELTAS	64

struct seg {
	caddr_t		s_base;
	size_t		s_size;
	struct as	*s_as;

	/* ---- model state ---- */
	char		m_name[32];
	int		m_kind;			/* ORACLE_SEG_* */
	int		m_advice;		/* ORACLE_ADV_* (segvn) */
	int		m_ndeltas;		/* refuse: deltas refused */
	long		m_deltas[ORACLE_MAXDELTAS];
};

extern struct seg *segkmap;

/* CPU statistics: only the vm counters pvn_write_done adds to. */
struct oracle_cpu_vminfo {
	uint64_t	dfree, pgrec, pgout, pgpgout, anonpgout, anonfree;
	uint64_t	fspgout, fsfree, execpgout, execfree;
};

struct cpu {
	struct {
		struct oracle_cpu_vminfo vm;
	} cpu_stats;
};

extern struct cpu oracle_cpu;
#define	CPU			(&oracle_cpu)
#define	CPU_STATS_ENTER_K()	((void)0)
#define	CPU_STATS_EXIT_K()	((void)0)
#define	CPU_STATS_ADDQ(cp, cls, st, amt) \
	((void)((cp)->cpu_stats.cls.st += (amt)))

/* Tracing probes of the kernel: nothing to do in the oracle. */
#define	TRACE_0(fac, tag, name)				((void)0)
#define	TRACE_1(fac, tag, name, d1)			((void)0)
#define	TRACE_2(fac, tag, name, d1, d2)			((void)0)
#define	TRACE_3(fac, tag, name, d1, d2, d3)		((void)0)
#define	TRACE_4(fac, tag, name, d1, d2, d3, d4)		((void)0)

/* Memory thresholds (vm_pageout.c globals), set from the scenario. */
extern pgcnt_t freemem;
extern pgcnt_t minfree;
extern pgcnt_t desfree;
extern pgcnt_t lotsfree;
extern pgcnt_t throttlefree;
extern pgcnt_t pageout_reserve;

/* vm_pvn.c's own tunables, defined by vm_pvn.c itself. */
extern int	pvn_nofodklust;
extern int	pvn_write_noklust;
extern uint_t	pvn_vmodsort_supported;
extern uint_t	pvn_vmodsort_disable;
extern int	write_free;
extern pgcnt_t	pages_before_pager;

/* ------------------------------------------------------------------ */
/* Predicate macros (not traced).                                      */
/* ------------------------------------------------------------------ */

#define	PAGE_LOCKED(pp)		(((pp)->p_selock & ~SE_EWANTED) != 0)
#define	PAGE_SHARED(pp)		(((pp)->p_selock & ~SE_EWANTED) > 0)
#define	PAGE_EXCL(pp)		((pp)->p_selock < 0)
#define	PAGE_LOCKED_SE(pp, se)	\
	((se) == SE_EXCL ? PAGE_EXCL(pp) : PAGE_SHARED(pp))
#define	PP_ISFREE(pp)		((pp)->p_state & P_FREE)

#define	IS_SWAPVP(vp)	(((vp)->v_flag & (VISSWAP | VSWAPLIKE)) != 0)
#define	IS_SWAPFSVP(vp)	(((vp)->v_flag & VISSWAPFS) != 0)
#define	IS_VMODSORT(vp)	\
	(pvn_vmodsort_supported != 0 && ((vp)->v_flag & VMODSORT) != 0)

/* ------------------------------------------------------------------ */
/* ASSERT is active (a DEBUG kernel); a failure panics the run.        */
/* ------------------------------------------------------------------ */

void oracle_assfail(const char *expr) __attribute__((noreturn));
#define	ASSERT(EX)	((void)((EX) || (oracle_assfail(#EX), 0)))

/* ------------------------------------------------------------------ */
/* Primitives called by vm_pvn.c (model.c).  Each one traced.          */
/* ------------------------------------------------------------------ */

void	panic(const char *fmt, ...) __attribute__((noreturn));

void	mutex_enter(kmutex_t *);
void	mutex_exit(kmutex_t *);
void	cv_wait(kcondvar_t *, kmutex_t *);
void	cv_broadcast(kcondvar_t *);
kmutex_t *page_vnode_mutex(struct vnode *);		/* not traced */

struct kmem_cache;
typedef struct kmem_cache kmem_cache_t;
struct kmem_cache *kmem_cache_create(char *, size_t, size_t,
	    int (*)(void *, void *, int), void (*)(void *, void *),
	    void (*)(void *), void *, void *, int);	/* not traced */
void	*kmem_cache_alloc(struct kmem_cache *, int);
void	kmem_cache_free(struct kmem_cache *, void *);

page_t	*page_create_va(struct vnode *, u_offset_t, size_t, uint_t,
	    struct seg *, caddr_t);
void	page_add(page_t **, page_t *);
void	page_sub(page_t **, page_t *);
void	page_vpadd(page_t **, page_t *);
void	page_vpsub(page_t **, page_t *);
page_t	*page_lookup_nowait(struct vnode *, u_offset_t, se_t);
int	page_lock(page_t *, se_t, kmutex_t *, reclaim_t);
int	page_trylock(page_t *, se_t);
void	page_unlock(page_t *);
int	page_tryupgrade(page_t *);
void	page_downgrade(page_t *);
void	page_io_lock(page_t *);
int	page_io_trylock(page_t *);
void	page_io_unlock(page_t *);
void	page_io_wait(page_t *);
int	page_io_locked(page_t *);
int	page_iolock_assert(page_t *);			/* not traced */
int	page_release(page_t *, int);
void	page_destroy_free(page_t *);

uint_t	hat_pagesync(page_t *, uint_t);
int	hat_pageunload(page_t *, uint_t);
uint_t	hat_page_getattr(page_t *, uint_t);
int	hat_supported(enum hat_features, void *);

/* hat.h macros, each mapped to its own traced function */
uint_t	oracle_hat_ismod(page_t *);
void	oracle_hat_setmod_only(page_t *);
void	oracle_hat_clrrefmod(page_t *);
ulong_t	oracle_hat_page_is_mapped(page_t *);
#define	hat_ismod(pp)		oracle_hat_ismod(pp)
#define	hat_setmod_only(pp)	oracle_hat_setmod_only(pp)
#define	hat_clrrefmod(pp)	oracle_hat_clrrefmod(pp)
#define	hat_page_is_mapped(pp)	oracle_hat_page_is_mapped(pp)

/* VN_DISPOSE: the default VOP_DISPOSE, fs_dispose */
void	oracle_vn_dispose(page_t *, int, int, cred_t *);
#define	VN_DISPOSE(pp, flag, dn, cr)	oracle_vn_dispose((pp), (flag), (dn), (cr))

/* SEGOP_KLUSTER: the segment driver's kluster op */
int	oracle_segop_kluster(struct seg *, caddr_t, ssize_t);
#define	SEGOP_KLUSTER(s, a, d)	oracle_segop_kluster((s), (a), (d))

caddr_t	segmap_getmapflt(struct seg *, struct vnode *, u_offset_t, size_t,
	    int, enum seg_rw);
int	segmap_release(struct seg *, caddr_t, uint_t);
int	kzero(void *, size_t);

/* ------------------------------------------------------------------ */
/* vm/pvn.h                                                            */
/* ------------------------------------------------------------------ */

struct page *pvn_read_kluster(struct vnode *, u_offset_t, struct seg *,
	    caddr_t, u_offset_t *, size_t *, u_offset_t, size_t, int);
struct page *pvn_write_kluster(struct vnode *, struct page *, u_offset_t *,
	    size_t *, u_offset_t, size_t, int);
void	pvn_read_done(struct page *, int);
void	pvn_write_done(struct page *, int);
void	pvn_io_done(struct page *);
int	pvn_vplist_dirty(struct vnode *, u_offset_t,
	    int (*)(vnode_t *, struct page *, u_offset_t *, size_t *, int,
	    cred_t *), int, struct cred *);
void	pvn_vplist_setdirty(vnode_t *, int (*)(page_t *));
int	pvn_getdirty(struct page *, int);
void	pvn_vpzero(struct vnode *, u_offset_t, size_t);
int	pvn_getpages(int (*)(vnode_t *, u_offset_t, size_t, uint_t *,
	    struct page *[], size_t, struct seg *, caddr_t, enum seg_rw,
	    cred_t *), struct vnode *, u_offset_t, size_t, uint_t *,
	    struct page **, size_t, struct seg *, caddr_t, enum seg_rw,
	    struct cred *);
void	pvn_plist_init(struct page *, struct page **, size_t, u_offset_t,
	    size_t, enum seg_rw);
void	pvn_init(void);

/* ------------------------------------------------------------------ */
/* Model interface used by the driver (model.c).                       */
/* ------------------------------------------------------------------ */

#define	ORACLE_MAXVNODES	32
#define	ORACLE_MAXSEGS		32

struct oracle_flagname {
	unsigned long	value;
	const char	*name;
};

extern const struct oracle_flagname oracle_buf_flags[];
extern const struct oracle_flagname oracle_pg_flags[];
extern const struct oracle_flagname oracle_sync_flags[];
extern const struct oracle_flagname oracle_attr_flags[];
extern const struct oracle_flagname oracle_sm_flags[];
extern const struct oracle_flagname oracle_v_flags[];

extern int	oracle_hat_vmodsort;	/* what hat_supported(HAT_VMODSORT) says */

/* objects of the scenario */
extern vnode_t	oracle_vnodes[ORACLE_MAXVNODES];
extern int	oracle_nvnodes;
extern struct seg oracle_segs[ORACLE_MAXSEGS];
extern int	oracle_nsegs;
extern page_t	*oracle_phys;		/* physical pages */
extern int	oracle_nphys;
extern page_t	*oracle_cache_head;	/* cache list, through p_next/p_prev */
extern pgcnt_t	oracle_nfree;		/* pages on the free list */

void	oracle_set_pagesize(long);
void	oracle_alloc_phys(int);
void	oracle_reset_memory(void);	/* drop every physical page (bench) */
void	oracle_freelist_add(page_t *);
void	oracle_cachelist_append(page_t *);
void	oracle_hashin_tail(page_t *, vnode_t *, u_offset_t);
page_t	*oracle_hash_find(vnode_t *, u_offset_t);
void	oracle_grant_lock(page_t *, se_t, int who);
void	oracle_set_ewanted(page_t *);	/* SE_EWANTED (scenario set-up) */

/*
 * Tracing.  oracle_trace_begin and oracle_trace_end are macros so that their
 * arguments (page names, flag names: snprintf into the rendering buffers)
 * are evaluated only when tracing is on: with tracing off a primitive costs
 * what its model work costs.  oracle_trace_begin is -1 when tracing is off,
 * and oracle_trace_end does nothing for a negative index.  A build with
 * -DORACLE_BENCH (the benchmark, build.sh OUTDIR bench) has no tracing at
 * all: ORACLE_TRACING is the constant 0 and the compiler drops the calls.
 */
void	oracle_trace_enable(int on);
void	oracle_trace_reset(void);
int	oracle_trace_begin_fmt(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	oracle_trace_end_fmt(int idx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#ifdef ORACLE_BENCH
#define	ORACLE_TRACING	0
#else
extern int	oracle_trace_on;
#define	ORACLE_TRACING	oracle_trace_on
#endif
#define	oracle_trace_begin(...)	\
	(ORACLE_TRACING ? oracle_trace_begin_fmt(__VA_ARGS__) : -1)
#define	oracle_trace_end(idx, ...)	\
	((idx) < 0 ? (void)0 : oracle_trace_end_fmt((idx), __VA_ARGS__))
int	oracle_trace_count(void);
const char *oracle_trace_line(int i);	/* full text, result included */

/* aborting a call: WOULDBLOCK or PANIC */
extern jmp_buf	oracle_jmp;
extern int	oracle_jmp_armed;
extern char	oracle_abort_msg[1024];
void	oracle_wouldblock(int traceidx) __attribute__((noreturn));
void	oracle_mpanic(const char *fmt, ...) __attribute__((noreturn));

/* rendering (rotating static buffers: use the result at once) */
const char *oracle_pname(page_t *);
const char *oracle_vname(struct vnode *);
const char *oracle_segname(struct seg *);
const char *oracle_flags(unsigned long, const struct oracle_flagname *);

#endif /* ORACLE_H */
