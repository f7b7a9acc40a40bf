/* earshot.h: the public interface of libearshot, the pure core. */
#ifndef EARSHOT_H
#define EARSHOT_H

#include "error.h"
#include "norm.h"
#include "rules.h"
#include "match.h"
#include "proto.h"
#include "alert.h"
#include "calls.h"
#include "redact.h"
#include "store.h"
#include "defaults.h"

#endif
