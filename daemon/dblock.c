/*
 * dblock.c: one earshotd per database (dblock.h).
 *
 * The lock is an exclusive POSIX record lock (fcntl F_SETLK) over the whole
 * of a file of its own, <db>-earshotd.lock, beside the database:
 *
 * - Not on the database file: SQLite takes its own fcntl locks there, and
 *   a process loses every fcntl lock it holds on a file when it closes any
 *   descriptor of that file, which SQLite does. Nothing in earshotd opens
 *   the lock file but this module, and it keeps it open.
 * - Not flock() on the database: over NFS, Linux emulates flock() with a
 *   fcntl lock over the whole file, which would shut SQLite's own locks
 *   (and the analysts' reads) out. On its own file, a record lock works as
 *   far as the filesystem's locking does (NFS with lockd, or NFSv4); and
 *   F_GETLK names the holder's pid, which flock() cannot.
 * - Not SQLite's locking (locking_mode=EXCLUSIVE, a transaction kept
 *   open): it would shut out `earshot` readers, and `earshot ack`, which
 *   writes marks while the daemon runs; a read transaction kept open would
 *   also stop every WAL checkpoint.
 * - Not "<db>.lock": SQLite's unix-dotfile VFS makes a directory of that
 *   name to lock the database.
 * - The file is never removed: a daemon that opened it just before the
 *   removal would lock the removed file while the next one locks a new
 *   one, and both would run. Left behind, it is an empty file and no lock.
 * - Record locks are not inherited by fork(): earshotd takes the lock after
 *   it has detached.
 *
 * The database's path is resolved first (realpath: symbolic links, "..",
 * a relative path), so that two spellings of one path take one lock, in
 * the directory where SQLite, which resolves them too, keeps -wal and -shm.
 * Two bind mounts of one directory need nothing: the lock is on the inode.
 */
#include "dblock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* The lock file's path for the database at db into out: 0, or -1 with
 * errno. A database that does not exist yet is named by its resolved
 * directory and its own name. */
static int lock_path(const char *db, char *out, size_t cap) {
  char real[PATH_MAX], dir[PATH_MAX];
  const char *slash, *base = "";
  int n;

  if (realpath(db, real) == NULL) {
    if (errno != ENOENT)
      return -1;
    slash = strrchr(db, '/');
    if (slash == NULL) {
      snprintf(dir, sizeof(dir), ".");
      base = db;
    } else if ((size_t)(slash - db) >= sizeof(dir)) {
      errno = ENAMETOOLONG;
      return -1;
    } else {
      snprintf(dir, sizeof(dir), "%.*s", slash == db ? 1 : (int)(slash - db), db);
      base = slash + 1;
    }
    if (realpath(dir, real) == NULL)
      return -1;
  }
  if (*base)
    n = snprintf(out, cap, "%s%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", base,
                 ESD_DBLOCK_SUFFIX);
  else
    n = snprintf(out, cap, "%s%s", real, ESD_DBLOCK_SUFFIX);
  if (n < 0 || (size_t)n >= cap) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

/* Says who holds the lock on fd's file: 1 (logged), or 0 when nobody does
 * any more (its holder just ended), or -1 (errno). */
static int report_holder(int fd, const char *db, const char *path) {
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

  if (fcntl(fd, F_GETLK, &fl) != 0)
    return -1;
  if (fl.l_type == F_UNLCK)
    return 0;
  /* l_pid is 0 for a holder in another PID namespace (a container sharing
   * the directory); over NFS it may be another machine's. */
  if (fl.l_pid > 0)
    esd_error("store", "%s is in use by another earshotd (pid %ld, which holds %s): stop it "
              "first, or give this one a --db of its own", db, (long)fl.l_pid, path);
  else
    esd_error("store", "%s is in use by another earshotd (a process this one cannot see, in "
              "another container or on another machine, holds %s): stop it first, or give "
              "this one a --db of its own", db, path);
  return 1;
}

int esd_dblock_take(const char *db_path) {
  char path[PATH_MAX + sizeof(ESD_DBLOCK_SUFFIX)];
  struct stat st;
  int fd, rc;

  if (db_path[0] == '\0') {
    esd_error("store", "no database path given (--db)");
    return -1;
  }
  if (lock_path(db_path, path, sizeof(path)) != 0) {
    esd_error("store", "cannot work out where to lock %s: %s", db_path, strerror(errno));
    return -1;
  }
  /* O_NOFOLLOW: a link planted there is refused, not followed; O_NONBLOCK:
   * a FIFO there does not hang the start. */
  fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) {
    esd_error("store", "cannot open %s, the lock that keeps a second earshotd off %s: %s", path,
              db_path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    esd_error("store", "%s is not a regular file: earshotd locks %s there; move it away", path,
              db_path);
    goto fail;
  }
  /* A holder that ends between F_SETLK and F_GETLK leaves the lock free:
   * try again, a few times. */
  for (int tries = 0; tries < 3; tries++) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET}; /* l_len 0: the whole file */
    if (fcntl(fd, F_SETLK, &fl) == 0) {
      esd_debug("store", "locked %s", path);
      return fd;
    }
    if (errno != EAGAIN && errno != EACCES)
      break;
    if ((rc = report_holder(fd, db_path, path)) > 0)
      goto fail;
    if (rc < 0)
      break;
  }
  esd_error("store", "cannot lock %s, which keeps a second earshotd off %s: %s%s", path, db_path,
            strerror(errno),
            errno == ENOLCK ? " (a network filesystem without locking? SQLite needs locks too: "
                              "keep the database on a local disk)" : "");
fail:
  close(fd);
  return -1;
}

void esd_dblock_release(int fd) {
  if (fd >= 0)
    close(fd);
}
