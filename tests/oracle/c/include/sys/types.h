/*
 * Shadow of <sys/types.h> for the pvnsim fidelity oracle.
 *
 * This name collides with the C library's own header, which libc headers
 * (stdlib.h, for one) include internally.  So first pull in the real one,
 * then the umbrella header with the kernel definitions.
 */
#include_next <sys/types.h>
#include "oracle.h"
