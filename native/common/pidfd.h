/* pidfd_open and pidfd_getfd by number: the same on every architecture (they postdate
 * the split syscall tables), and older C libraries' headers lack them. C and C++. */
#ifndef TAPWIRE_PIDFD_H
#define TAPWIRE_PIDFD_H
#include <sys/syscall.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#endif
