"""A tiny BERT encoder for tests, built in well under a second with no download.

``build_tiny_bert(directory)`` trains a WordPiece vocabulary on a small built-in corpus (English
product and film text plus Chinese, so CJK characters get their own tokens rather than [UNK]),
creates a 2-layer BERT with seeded random weights, and saves both with ``save_pretrained()``: the
result loads through the same ``from_pretrained(path)`` code as a real model. Weights are
random, so vectors are meaningful only as a function of the input (same text, same vector), not
semantically.
"""

from __future__ import annotations

from pathlib import Path

HIDDEN_SIZE = 32
MAX_POSITIONS = 128

CORPUS = [
    "Lightweight trail running shoes with a grippy rubber sole and breathable mesh upper.",
    "Waterproof hiking boots for men, leather, ankle support, size 42.",
    "Non-stick frying pan, 28 cm, induction compatible, dishwasher safe.",
    "Stainless steel chef knife with an ergonomic handle.",
    "Wireless noise cancelling headphones with 30 hours of battery life.",
    "Organic green tea, 100 bags, from the hills of Darjeeling.",
    "Cotton t-shirt in navy blue, slim fit, machine washable.",
    "A cosy science fiction film about a crew lost in deep space.",
    "Space opera movie with aliens, starships and an epic galactic war.",
    "Romantic comedy set in Paris: two strangers, one apartment.",
    "A gritty crime drama following a detective in 1970s New York.",
    "Animated family adventure with talking animals and a catchy soundtrack.",
    "Documentary about the ocean, whales and coral reefs.",
    "Horror thriller: a haunted house, a storm and no way out.",
    "Bestselling fantasy novel with dragons, wizards and a lost kingdom.",
    "Customers who bought this item also bought a yoga mat and water bottle.",
    "Recommended for you: movies, books, electronics, kitchen and sports.",
    "Price, rating, reviews, category, brand, colour, size and stock.",
    "推荐给我一些好看的电影",
    "科幻电影，太空，外星人，星际战争",
    "跑鞋，轻便，透气，适合越野跑步",
    "不粘锅，煎锅，厨房用品，电磁炉适用",
    "无线降噪耳机，续航三十小时",
    "浪漫喜剧电影，巴黎，爱情故事",
    "有机绿茶，一百包，来自大吉岭",
    "用户还购买了瑜伽垫和水杯",
    "Mixed text: 科幻 sci-fi movie 电影 and 跑鞋 running shoes.",
]


def build_tiny_bert(directory: Path) -> Path:
    """Save a tiny BERT model and its tokenizer to ``directory`` and return it."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    # Special tokens come first ([PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4); BertConfig's
    # default pad_token_id is 0, which matches.
    trainer = BertWordPieceTokenizer(lowercase=True, handle_chinese_chars=True)
    trainer.train_from_iterator(CORPUS * 3, vocab_size=1000, min_frequency=1, show_progress=False)
    vocab = trainer.get_vocab()
    (directory / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n", encoding="utf-8")
    # Loading the vocab.txt through BertTokenizerFast gives the standard BERT pipeline (BERT
    # normaliser splitting CJK characters, [CLS] ... [SEP]) on every transformers version.
    tokenizer = BertTokenizerFast.from_pretrained(directory, model_max_length=MAX_POSITIONS)
    tokenizer.save_pretrained(directory)

    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=HIDDEN_SIZE,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_POSITIONS,
    )
    # Seeded so that every build (and every test run) gets the same weights; the global RNG is
    # restored afterwards so other tests' randomness does not depend on whether this ran.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = BertModel(config)
    model.save_pretrained(directory)
    return directory


CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tiny_causal_lm(directory: Path) -> Path:
    """Save a tiny Llama causal LM (random weights) with a byte-level BPE tokenizer trained on the
    fly and a chat template, loadable with AutoModelForCausalLM / AutoTokenizer.from_pretrained.
    What it writes is gibberish, which is the point: copy from it must fail validation."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from llmrec_django.copywriting.prompt import SYSTEM_PROMPT

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    specials = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1500,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(
        (CORPUS + [SYSTEM_PROMPT, '{"title": "category": "facts": "why_recommended":'] * 3), trainer
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>", model_max_length=2048
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)

    config = LlamaConfig(
        vocab_size=bpe.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1234)
        model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    return directory
