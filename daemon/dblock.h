/*
 * dblock.h: one earshotd per database.
 *
 * Two daemons on one database would both hand out alert ids from the
 * largest one stored and overwrite each other's calls. The first to start
 * holds a lock next to the database, <db>-earshotd.lock, for as long as it
 * runs; a second one finds it held, says so, and does not start. The
 * kernel drops the lock when its holder ends, however it ends (kill -9
 * too): what stays behind is an empty file, never a held lock. The
 * `earshot` command and sqlite3 never take it: they read (and `earshot
 * ack` writes marks) while the daemon runs, as SQLite allows.
 */
#ifndef ESD_DBLOCK_H
#define ESD_DBLOCK_H

/* The lock file's name is the database's (symbolic links resolved) and
 * this. */
#define ESD_DBLOCK_SUFFIX "-earshotd.lock"

/* Takes the lock for the database at `db_path` (which need not exist yet;
 * its directory must). Returns the lock's descriptor, to be kept open for
 * as long as the daemon uses the database, or -1 (logged): another process
 * holds it (the message names the database and, when this process can see
 * it, the holder's pid), or the lock file cannot be made or locked.
 * Must be called in the process that will run: a fork()ed child does not
 * inherit the lock. */
int esd_dblock_take(const char *db_path);

/* Releases the lock taken by esd_dblock_take(); -1 is a no-op. */
void esd_dblock_release(int fd);

#endif
