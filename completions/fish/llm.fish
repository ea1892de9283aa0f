# fish completion for the llm toolbox. Options come from `llm-x --list-options`.
function __llm_opts
    set -l cmd (commandline -opc)[1]
    set -l opts ($cmd --list-options 2>/dev/null)
    contains -- --list-options $opts; or set -a opts --list-options
    printf '%s\n' $opts
end
for c in llm-info llm-quant llm-run llm-lora-merge llm-svd-delta llm-kvstat llm-bench
    complete -c $c -n 'string match -q -- "-*" (commandline -ct)' -f -a '(__llm_opts)'
end
complete -c llm-quant -s t -l type -x -a 'f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1'
complete -c llm-quant -l output-tensor-type -x -a 'f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1'
complete -c llm-quant -l token-embedding-type -x -a 'f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1'
complete -c llm-lora-merge -s t -l type -x -a 'f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1'
complete -c llm-kvstat -l kv-type -x -a 'f32 f16 bf16 q8_0 q4_0'
complete -c llm-kvstat -l preset -x -a 'llama2-7b llama2-13b llama2-70b llama3-8b llama3-70b mistral-7b qwen2.5-7b deepseek-v2 deepseek-v3'
complete -c llm-bench -s o -l output -x -a 'md csv tsv json jsonl'
complete -c llm-bench -l only -x -a 'bandwidth sgemm matvec attention quant'
