"""Medical knowledge tasks: MedQA (4 and 5 options), MedMCQA, PubMedQA and nine MMLU subjects."""
