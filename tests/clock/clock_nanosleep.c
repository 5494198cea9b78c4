/* Preloaded before libfaketime into every child process the tests fake the date of
 * (tests/support/clock.py, faketime_env), compiled there with the system's C compiler.
 *
 * Those processes keep a real monotonic clock (FAKETIME_DONT_FAKE_MONOTONIC=1): faked, every
 * wait with a timeout (a lock, a queue, a future) hangs, as the C library hands such waits to
 * the kernel on the real clock. But libfaketime 0.9.10 (Debian 12's) still converts a sleep
 * until an instant of the monotonic clock as if that clock were faked, so Python 3.11's
 * time.sleep, clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ...), fails with EINVAL
 * (libfaketime issue 426, fixed in 0.9.11). That one call goes to the C library untouched;
 * every other goes on to libfaketime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <time.h>

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *request,
                    struct timespec *remain)
{
    static clock_nanosleep_fn libc_sleep, next_sleep;
    if (clock_id == CLOCK_MONOTONIC && (flags & TIMER_ABSTIME)) {
        if (libc_sleep == NULL) {
            void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
            libc_sleep = libc ? (clock_nanosleep_fn)dlsym(libc, "clock_nanosleep") : NULL;
        }
        return libc_sleep ? libc_sleep(clock_id, flags, request, remain) : ENOSYS;
    }
    if (next_sleep == NULL) {
        next_sleep = (clock_nanosleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return next_sleep ? next_sleep(clock_id, flags, request, remain) : ENOSYS;
}
