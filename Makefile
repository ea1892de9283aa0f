# llm toolbox: one non-recursive Makefile.
#   make            build lib/libllm.a, lib/libllm.so and bin/llm-*
#   make check      unit, CLI and reference tests (ends "N passed, N failed")
#   make deps       apt-get install what the build and the tests need (root)
#   make demo       a small end-to-end run
#   make install    PREFIX=/usr/local DESTDIR=
#   make bench      the standard benchmarks, JSON in bench/
VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   := $(PREFIX)/bin
LIBDIR   := $(PREFIX)/lib
INCDIR   := $(PREFIX)/include/llm
MANDIR   := $(PREFIX)/share/man
PKGCONFIGDIR := $(LIBDIR)/pkgconfig

CC       ?= cc
PKGS     := libzstd libgit2 jansson libpcre2-8 openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
GIT_REV  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -fPIC -pthread
CPPFLAGS += -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) -DLLM_VERSION='"$(VERSION)"' -DLLM_GIT_REV='"$(GIT_REV)"'
LDLIBS   += $(PKG_LIBS) -lm -pthread

LIB_SRC  := $(sort $(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:lib/%.c=build/lib/%.o)
CLI_OBJ  := build/cmd/cli.o
CMD_SRC  := $(filter-out cmd/cli.c,$(sort $(wildcard cmd/llm-*.c)))
CMDS     := $(CMD_SRC:cmd/%.c=bin/%)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRC:tests/%.c=build/tests/%)
TOOL_SRC := $(sort $(wildcard tests/tool_*.c))
TOOLS    := $(TOOL_SRC:tests/%.c=build/tests/%)
HEADERS  := $(wildcard lib/*.h)

all: $(CMDS) lib/libllm.so build/llm.pc

build/lib/%.o: lib/%.c $(HEADERS) | build/lib
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
build/cmd/%.o: cmd/%.c cmd/cli.h $(HEADERS) | build/cmd
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
build/lib build/cmd build/tests bin:
	mkdir -p $@

lib/libllm.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
lib/libllm.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libllm.so.0 -o $@ $^ $(LDLIBS)

bin/llm-%: build/cmd/llm-%.o $(CLI_OBJ) lib/libllm.a | bin
	$(CC) $(CFLAGS) -o $@ $< $(CLI_OBJ) lib/libllm.a $(LDLIBS)

build/tests/%: tests/%.c tests/testutil.h lib/libllm.a | build/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -o $@ $< lib/libllm.a $(LDLIBS)

build/llm.pc: Makefile | build/lib
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: llm\nDescription: LLM checkpoint, quantization and inference library\nVersion: %s\nRequires.private: %s\nLibs: -L$${libdir} -lllm\nLibs.private: -lm -pthread\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' '$(VERSION)' '$(PKGS)' > $@

check: all $(TEST_BINS) $(TOOLS)
	@sh tests/run.sh

demo: all $(TOOLS)
	@sh tests/demo.sh

bench: all $(TOOLS)
	@sh tests/bench.sh

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		build-essential pkg-config git ca-certificates \
		libopenblas-dev libzstd-dev zstd libgit2-dev libjansson-dev libpcre2-dev \
		python3 python3-numpy man-db bash-completion

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(CMDS) $(DESTDIR)$(BINDIR)/
	install -m 644 lib/libllm.a $(DESTDIR)$(LIBDIR)/
	install -m 755 lib/libllm.so $(DESTDIR)$(LIBDIR)/libllm.so.0
	ln -sf libllm.so.0 $(DESTDIR)$(LIBDIR)/libllm.so
	install -m 644 $(filter-out lib/%_impl.h,$(HEADERS)) $(DESTDIR)$(INCDIR)/
	install -m 644 build/llm.pc $(DESTDIR)$(PKGCONFIGDIR)/llm.pc
	for f in man/*.1; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(MANDIR)/man1/; done; true
	for f in man/*.5; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(MANDIR)/man5/; done; true
	for f in man/*.7; do [ -e "$$f" ] && install -m 644 $$f $(DESTDIR)$(MANDIR)/man7/; done; true
	for c in $(notdir $(CMDS)); do \
		install -m 644 completions/bash/llm $(DESTDIR)$(PREFIX)/share/bash-completion/completions/$$c; done
	install -m 644 completions/zsh/_llm $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_llm
	install -m 644 completions/fish/llm.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/llm.fish
	for c in $(notdir $(CMDS)); do \
		ln -sf llm.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/$$c.fish; done

clean:
	rm -rf build bin lib/libllm.a lib/libllm.so

.PHONY: all check demo bench deps install clean
.SECONDARY:
