# Hexabase KaaS control plane.  Plain GNU make; dependencies via pkg-config.
#
#   make            build every handler and job into build/
#   make deps       apt-get install the Debian packages that are missing
#   make run        build, then serve the whole stack on 127.0.0.1:8080
#   make stop       stop what `make run` started
#   make restart-handler H=plans
#                   replace one handler's process pool without failing requests
#   make test       build with sanitizers, start an isolated stack, run prove
#   make bench      wrk against hello, /api/v1/plans/{id} and nginx return 200
#   make install-cli [PREFIX=/usr/local]
#                   install hxb-credential, the kubectl plugin, in PREFIX/bin
#   make clean

SHELL		:= /bin/bash
.DEFAULT_GOAL	:= all

B		?= build
SAN		?=
CC		?= cc
PKGS		:= fcgi libpq hiredis libnats jansson libcrypto libcurl
PKG_CFLAGS	:= $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT		?= -O2 -g
override CFLAGS	:= $(OPT) -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE \
		   -Ishared $(PKG_CFLAGS) -MMD -MP $(CFLAGS)
LDLIBS		+= $(PKG_LIBS) -lpthread
ifneq ($(SAN),)
override CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all -DHXB_TEST_FAULTS
override LDFLAGS += -fsanitize=address,undefined
endif

HANDLERS	:= $(basename $(notdir $(wildcard handlers/*.c)))
JOBS		:= $(basename $(notdir $(wildcard jobs/*.c)))
UNITS		:= $(basename $(notdir $(wildcard t/unit/*.c)))
TOOLS		:= $(basename $(notdir $(wildcard t/tools/*.c)))
LIB_SRC		:= $(wildcard shared/*.c)
LIB_OBJ		:= $(LIB_SRC:%.c=$(B)/%.o)
LIB		:= $(B)/libhxb.a

HANDLER_BINS	:= $(HANDLERS:%=$(B)/handlers/%)
JOB_BINS	:= $(JOBS:%=$(B)/jobs/%)
UNIT_BINS	:= $(UNITS:%=$(B)/t/unit/%)
BENCH_BINS	:= $(B)/t/bench/hello

.PHONY: all deps run stop restart-handler test test-build bench clean \
	install-cli
.SUFFIXES:
.SECONDARY:

all: $(HANDLER_BINS) $(JOB_BINS) $(BENCH_BINS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/handlers/%: $(B)/handlers/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/jobs/%: $(B)/jobs/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/t/bench/hello: $(B)/t/bench/hello.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/t/unit/%: $(B)/t/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Test tools (t/tools): programs the tests run, never installed.
$(B)/t/tools/%: $(B)/t/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The test build: everything, plus the unit tests and test tools, with
# sanitizers.
test-build:
	$(MAKE) B=build/asan SAN=1 OPT="-O1 -g" all \
	    $(UNITS:%=build/asan/t/unit/%) $(TOOLS:%=build/asan/t/tools/%)

deps:
	@t/deps.sh

# Targets that may follow `deps` re-run make, so that pkg-config is asked
# again once the -dev packages are there.
run: deps
	@$(MAKE) --no-print-directory all
	@t/stack.sh run var

stop:
	@t/stack.sh stop var

restart-handler:
	@test -n "$(H)" || { echo "usage: make restart-handler H=name" >&2; exit 2; }
	@$(MAKE) --no-print-directory all
	@t/stack.sh restart-handler var $(H)

test: deps
	@$(MAKE) --no-print-directory test-build >/dev/null
	@t/run-tests.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@t/bench/run.sh
	@t/bench/lifecycle.sh

PREFIX		?= /usr/local
install-cli: $(B)/jobs/hxb-credential
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(B)/jobs/hxb-credential $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
