# llm toolbox: one non-recursive Makefile.
#   make            build build/libllm.a, build/libllm.so and bin/llm-*
#   make check      unit, CLI and reference tests (ends "N passed, N failed")
#   make check-asan the unit tests and the damaged-file corpus again, built
#                   with -fsanitize=address,undefined (in build/asan)
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
PKGS     := libzstd libgit2 libcrypto jansson libpcre2-8 openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Without the packages every object would be compiled without their flags
# (OpenBLAS's include directory among them: an older cblas.h elsewhere then
# leaves openblas_* undeclared, truncated to int): stop before compiling.
# pkg-config prints nothing at all when any one of them is missing.
NODEPS_GOALS := deps clean
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(PKG_LIBS),)
$(error pkg-config cannot find $(PKGS): run 'make deps' (as root) first)
endif
endif
GIT_REV  := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -fPIC -pthread
CPPFLAGS += -D_GNU_SOURCE -Ilib $(PKG_CFLAGS) -DLLM_VERSION='"$(VERSION)"' -DLLM_GIT_REV='"$(GIT_REV)"'
LDLIBS   += $(PKG_LIBS) -lm -pthread

# B: objects, libraries and test programs; O: the commands
B        ?= build
O        ?= bin
LIB_SRC  := $(sort $(wildcard lib/*.c))
LIB_OBJ  := $(LIB_SRC:lib/%.c=$(B)/lib/%.o)
LIBA     := $(B)/libllm.a
LIBSO    := $(B)/libllm.so
CLI_OBJ  := $(B)/cmd/cli.o
CMD_SRC  := $(filter-out cmd/cli.c,$(sort $(wildcard cmd/llm-*.c)))
CMDS     := $(CMD_SRC:cmd/%.c=$(O)/%)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRC:tests/%.c=$(B)/tests/%)
TOOL_SRC := $(sort $(wildcard tests/tool_*.c))
TOOLS    := $(TOOL_SRC:tests/%.c=$(B)/tests/%)
HEADERS  := $(wildcard lib/*.h)

all: $(CMDS) $(LIBSO)

# $(B)/flags holds the compiler command line; it changes (and every object
# is rebuilt) only when the flags do: new packages, CFLAGS, a new commit.
FLAGS_LINE := '$(subst ','\'',$(CC) $(CPPFLAGS) $(CFLAGS) | $(LDLIBS))'
$(B)/flags: FORCE | $(B)/lib
	@printf '%s\n' $(FLAGS_LINE) | cmp -s - $@ || printf '%s\n' $(FLAGS_LINE) > $@

$(B)/lib/%.o: lib/%.c $(HEADERS) $(B)/flags | $(B)/lib
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(B)/cmd/%.o: cmd/%.c cmd/cli.h $(HEADERS) $(B)/flags | $(B)/cmd
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<
$(B)/lib $(B)/cmd $(B)/tests $(O):
	mkdir -p $@

$(LIBA): $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(LIBSO): $(LIB_OBJ)
	$(CC) $(CFLAGS) -shared -Wl,-soname,libllm.so.0 -o $@ $^ $(LDLIBS)

$(O)/llm-%: $(B)/cmd/llm-%.o $(CLI_OBJ) $(LIBA) | $(O)
	$(CC) $(CFLAGS) -o $@ $< $(CLI_OBJ) $(LIBA) $(LDLIBS)

$(B)/tests/%: tests/%.c tests/testutil.h $(LIBA) | $(B)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -o $@ $< $(TEST_LDFLAGS) $(LIBA) $(LDLIBS)
# test_lora fails allocations on demand (its __wrap_realloc, __wrap_strdup)
$(B)/tests/test_lora: TEST_LDFLAGS = -Wl,--wrap=realloc,--wrap=strdup
# test_oom fails every allocation in turn
$(B)/tests/test_oom: TEST_LDFLAGS = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=aligned_alloc

check: all $(TEST_BINS) $(TOOLS)
	@sh tests/run.sh

ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check-asan:
	$(MAKE) B=build/asan O=build/asan/bin CFLAGS="$(ASAN_FLAGS)" build/asan/bin/llm-info build/asan/bin/llm-run \
		build/asan/bin/llm-quant build/asan/bin/llm-svd-delta build/asan/tests/test_gguf build/asan/tests/test_ckpt_formats \
		build/asan/tests/test_types build/asan/tests/test_tokenizer build/asan/tests/tool_mkmodel \
		build/asan/tests/test_eval build/asan/tests/test_qpack build/asan/tests/test_fpack \
		build/asan/tests/test_gemm build/asan/tests/test_kernels build/asan/tests/test_lora \
		build/asan/tests/test_oom
	@ASAN_OPTIONS=detect_leaks=1 BIN=$(CURDIR)/build/asan/bin TESTDIR=build/asan/tests \
		TESTS="test_gguf test_ckpt_formats test_types test_tokenizer test_eval test_qpack test_fpack test_gemm test_kernels test_lora test_oom t_damaged" sh tests/run.sh

demo: all $(TOOLS)
	@sh tests/demo.sh

check-tokenizers: all
	@sh tests/tokdiff.sh

bench: all $(TOOLS)
	@sh tests/bench.sh

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		build-essential pkg-config git ca-certificates \
		libopenblas-dev libzstd-dev zstd libgit2-dev libssl-dev libjansson-dev libpcre2-dev \
		python3 python3-numpy man-db bash-completion

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man7 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 $(CMDS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(LIBA) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIBSO) $(DESTDIR)$(LIBDIR)/libllm.so.0
	ln -sf libllm.so.0 $(DESTDIR)$(LIBDIR)/libllm.so
	install -m 644 $(filter-out lib/%_impl.h,$(HEADERS)) $(DESTDIR)$(INCDIR)/
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: llm\nDescription: LLM checkpoint, quantization and inference library\nVersion: %s\nRequires.private: %s\nLibs: -L$${libdir} -lllm\nLibs.private: -lm -pthread\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' '$(VERSION)' '$(PKGS)' > $(DESTDIR)$(PKGCONFIGDIR)/llm.pc
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
	rm -rf build bin

.PHONY: all check check-asan check-tokenizers demo bench deps install clean FORCE
FORCE:
.SECONDARY:
