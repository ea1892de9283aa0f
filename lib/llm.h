/* llm.h - the llm toolbox library (libllm), all public modules.
 *
 *   error.h      error codes and the one-line message (llm_errmsg)
 *   types.h      tensor types (ggml ids), fp16/bf16, quantizers, statistics
 *   meta.h       typed key/value metadata (GGUF's value model)
 *   gguf.h       GGUF reader and streaming writer
 *   io.h         mapped inputs (stdin spooled) and atomic outputs
 *   ckpt.h       one view of a checkpoint: GGUF, Hugging Face, llama2.c
 *   convert.h    streaming conversion with llama-quantize's type rules
 *   tokenizer.h  SentencePiece and byte-level BPE tokenizers
 *   model.h      llama-family forward pass
 *   sampler.h    choosing the next token from logits
 *   eval.h       log-probabilities, scores, perplexity, generation
 *   lora.h, svd.h  adapters and truncated SVD
 *   kv.h         KV-cache sizing and statistics
 *
 * Build with `pkg-config --cflags --libs llm`.  Functions that can fail
 * return 0 or a negative LLM_E* code; the library never prints or exits.
 */
#ifndef LLM_H
#define LLM_H

#include "error.h"
#include "types.h"
#include "meta.h"
#include "gguf.h"
#include "io.h"
#include "ckpt.h"
#include "convert.h"
#include "tokenizer.h"
#include "model.h"
#include "sampler.h"
#include "eval.h"
#include "lora.h"
#include "svd.h"
#include "kv.h"

#endif
