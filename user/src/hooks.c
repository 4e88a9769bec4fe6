// SPDX-License-Identifier: GPL-2.0
/*
 * Hook discovery: directories merged by name (earlier directories win),
 * C-locale order, and the ownership/permission rules.  Nothing is dropped
 * without a reason: every entry found ends up in the hookset with a state.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

const char *hook_state_name(int state)
{
	switch (state) {
	case HOOK_ELIGIBLE:	return "run";
	case HOOK_REFUSED:	return "refused";
	case HOOK_IGNORED:	return "ignored";
	case HOOK_OVERRIDDEN:	return "overridden";
	case HOOK_MASKED:	return "masked";
	}
	return "?";
}

void hook_policy_init(struct hook_policy *p, long hook_owner)
{
	uid_t me = geteuid();

	p->nowners = 0;
	if (hook_owner >= 0) {
		p->owners[p->nowners++] = (uid_t)hook_owner;
		return;
	}
	p->owners[p->nowners++] = 0;
	if (me != 0)
		p->owners[p->nowners++] = me;
}

void hook_policy_describe(const struct hook_policy *p, char *buf, size_t n)
{
	if (p->nowners == 2)
		fmt_str(buf, n, "uid %u or %u", (unsigned int)p->owners[0],
			(unsigned int)p->owners[1]);
	else
		fmt_str(buf, n, "uid %u", (unsigned int)p->owners[0]);
}

static int trusted_owner(const struct hook_policy *p, uid_t uid)
{
	int i;

	for (i = 0; i < p->nowners; i++)
		if (p->owners[i] == uid)
			return 1;
	return 0;
}

/*
 * Ownership and mode rules common to hooks and their directories.  A
 * directory may also belong to root: root can change anything anyway.
 */
static int check_stat(const struct stat *st, const struct hook_policy *pol,
		      int is_dir, char *why, size_t n)
{
	char owners[64];
	unsigned int mode = (unsigned int)(st->st_mode & 07777);

	if (!trusted_owner(pol, st->st_uid) && !(is_dir && st->st_uid == 0)) {
		hook_policy_describe(pol, owners, sizeof(owners));
		fmt_str(why, n, "owned by uid %u, not by %s%s",
			(unsigned int)st->st_uid, is_dir ? "root or " : "",
			owners);
		return -1;
	}
	if (st->st_mode & S_IWOTH) {
		fmt_str(why, n, "world-writable (mode %04o)", mode);
		return -1;
	}
	if (st->st_mode & S_IWGRP) {
		fmt_str(why, n, "group-writable (mode %04o)", mode);
		return -1;
	}
	return 0;
}

/*
 * A symlinked hook is only as safe as the directories its target lives
 * in: whoever can write to one of them can put another file in its place
 * between the check and the exec.  Each must pass the directory rules; a
 * sticky bit does not excuse a world-writable one (a hook has no business
 * in /tmp).
 */
static int check_target_dirs(const char *path, const struct hook_policy *pol,
			     char *why, size_t n)
{
	char real[PATH_MAX], dir_why[160];
	struct stat st;
	char *slash;

	if (!realpath(path, real)) {
		fmt_str(why, n, "cannot resolve the symlink: %s",
			strerror(errno));
		return -1;
	}
	while ((slash = strrchr(real, '/'))) {
		if (slash == real)
			slash[1] = '\0';	/* the root directory */
		else
			*slash = '\0';
		if (stat(real, &st) < 0) {
			fmt_str(why, n, "symlink into %s: %s", real,
				strerror(errno));
			return -1;
		}
		if (check_stat(&st, pol, 1, dir_why, sizeof(dir_why)) < 0) {
			fmt_str(why, n, "symlink into %s, which is %s", real,
				dir_why);
			return -1;
		}
		if (slash == real)
			break;
	}
	return 0;
}

int hook_check(const char *path, const struct hook_policy *pol, char *why,
	       size_t n)
{
	int linked = 0;

	struct stat st;

	if (lstat(path, &st) < 0) {
		fmt_str(why, n, "cannot stat: %s", strerror(errno));
		return HOOK_REFUSED;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[64];
		ssize_t len = readlink(path, target, sizeof(target) - 1);

		if (len >= 0) {
			target[len] = '\0';
			if (!strcmp(target, "/dev/null")) {
				fmt_str(why, n, "symlink to /dev/null");
				return HOOK_MASKED;
			}
		}
		if (stat(path, &st) < 0) {
			fmt_str(why, n, "dangling symlink: %s",
				strerror(errno));
			return HOOK_REFUSED;
		}
		linked = 1;
	}
	if (!S_ISREG(st.st_mode)) {
		fmt_str(why, n, "not a regular file");
		return HOOK_REFUSED;
	}
	if (check_stat(&st, pol, 0, why, n) < 0)
		return HOOK_REFUSED;
	if (st.st_mode & (S_ISUID | S_ISGID)) {
		fmt_str(why, n, "setuid or setgid (mode %04o)",
			(unsigned int)(st.st_mode & 07777));
		return HOOK_REFUSED;
	}
	if (!(st.st_mode & S_IXUSR)) {
		fmt_str(why, n, "not executable (mode %04o)",
			(unsigned int)(st.st_mode & 07777));
		return HOOK_REFUSED;
	}
	if (linked && check_target_dirs(path, pol, why, n) < 0)
		return HOOK_REFUSED;
	fmt_str(why, n, "owner uid %u, mode %04o", (unsigned int)st.st_uid,
		(unsigned int)(st.st_mode & 07777));
	return HOOK_ELIGIBLE;
}

/* run-parts' rule for names, but said out loud instead of silently. */
static int name_check(const char *name, char *why, size_t n)
{
	const char *p;

	if (name[0] == '.') {
		fmt_str(why, n, "hidden file (name starts with '.')");
		return -1;
	}
	if (strchr(name, '.')) {
		fmt_str(why, n, "name contains '.' (backup and package files "
			"such as .dpkg-old or .rpmsave are never run; rename "
			"it without the dot to run it)");
		return -1;
	}
	for (p = name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')
			continue;
		fmt_str(why, n, "name has characters other than A-Z a-z 0-9 "
			"_ - (editor backups such as name~ are never run)");
		return -1;
	}
	return 0;
}

static void stat_dir(struct hook_dir *d, const struct hook_policy *pol)
{
	struct stat st;

	d->exists = 0;
	d->trusted = 0;
	d->why[0] = '\0';
	if (stat(d->path, &st) < 0) {
		fmt_str(d->why, sizeof(d->why), "%s", strerror(errno));
		return;
	}
	d->exists = 1;
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->mtim = st.st_mtim;
	d->ctim = st.st_ctim;
	if (!S_ISDIR(st.st_mode)) {
		fmt_str(d->why, sizeof(d->why), "not a directory");
		return;
	}
	if (check_stat(&st, pol, 1, d->why, sizeof(d->why)) < 0)
		return;
	d->trusted = 1;
}

int hooks_dirs_changed(const struct hookset *hs)
{
	int i;

	for (i = 0; i < hs->ndirs; i++) {
		const struct hook_dir *d = &hs->dirs[i];
		struct stat st;
		int exists = stat(d->path, &st) == 0;

		if (exists != d->exists)
			return 1;
		if (!exists)
			continue;
		if (st.st_dev != d->dev || st.st_ino != d->ino ||
		    st.st_mtim.tv_sec != d->mtim.tv_sec ||
		    st.st_mtim.tv_nsec != d->mtim.tv_nsec ||
		    st.st_ctim.tv_sec != d->ctim.tv_sec ||
		    st.st_ctim.tv_nsec != d->ctim.tv_nsec)
			return 1;
	}
	return 0;
}

static int hook_cmp(const struct hookset *hs, int a, int b)
{
	int c = strcmp(hs->hooks[a].name, hs->hooks[b].name);

	if (c)
		return c;
	return hs->hooks[a].dir - hs->hooks[b].dir;
}

void hooks_scan(struct hookset *hs, const char *const *dirs, int ndirs,
		const struct hook_policy *pol)
{
	int i, j;

	hs->n = 0;
	hs->dropped = 0;
	if (ndirs > HOOK_DIRS_MAX)
		ndirs = HOOK_DIRS_MAX;
	hs->ndirs = ndirs;
	for (i = 0; i < ndirs; i++) {
		struct hook_dir *d = &hs->dirs[i];
		struct dirent *de;
		DIR *dp;

		memset(d, 0, sizeof(*d));
		copy_str(d->path, sizeof(d->path), dirs[i]);
		stat_dir(d, pol);
		if (!d->exists)
			continue;
		dp = opendir(d->path);
		if (!dp) {
			d->trusted = 0;
			fmt_str(d->why, sizeof(d->why), "cannot read: %s",
				strerror(errno));
			continue;
		}
		while ((de = readdir(dp))) {
			struct hook *h;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (hs->n >= HOOKS_MAX) {
				hs->dropped++;
				continue;
			}
			h = &hs->hooks[hs->n];
			memset(h, 0, sizeof(*h));
			h->dir = i;
			if (copy_str(h->name, sizeof(h->name), de->d_name) < 0 ||
			    fmt_str(h->path, sizeof(h->path), "%s/%s", d->path,
				    de->d_name) < 0) {
				h->state = HOOK_IGNORED;
				fmt_str(h->why, sizeof(h->why), "name too long");
			}
			hs->order[hs->n] = hs->n;
			hs->n++;
		}
		closedir(dp);
	}

	/* insertion sort of the indices: strcmp, i.e. the C locale */
	for (i = 1; i < hs->n; i++) {
		int v = hs->order[i];

		for (j = i - 1; j >= 0 && hook_cmp(hs, hs->order[j], v) > 0; j--)
			hs->order[j + 1] = hs->order[j];
		hs->order[j + 1] = v;
	}

	for (i = 0; i < hs->n; i++) {
		struct hook *h = &hs->hooks[hs->order[i]];
		const struct hook *first = h;

		/* the same name in an earlier directory wins */
		for (j = i - 1; j >= 0; j--) {
			const struct hook *o = &hs->hooks[hs->order[j]];

			if (strcmp(o->name, h->name) != 0)
				break;
			first = o;
		}
		if (first != h) {
			h->state = HOOK_OVERRIDDEN;
			fmt_str(h->why, sizeof(h->why), "%s takes precedence",
				first->path);
			continue;
		}
		if (h->state == HOOK_IGNORED)
			continue;
		if (name_check(h->name, h->why, sizeof(h->why)) < 0) {
			h->state = HOOK_IGNORED;
			continue;
		}
		if (!hs->dirs[h->dir].trusted) {
			h->state = HOOK_REFUSED;
			fmt_str(h->why, sizeof(h->why), "directory %s: %s",
				hs->dirs[h->dir].path, hs->dirs[h->dir].why);
			continue;
		}
		h->state = hook_check(h->path, pol, h->why, sizeof(h->why));
	}
}
