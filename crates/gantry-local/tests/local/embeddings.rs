//! The candle BERT embedding provider on the tiny generated model.

use super::*;
use gantry_local::testing::{write_tiny_bert, TINY_BERT_DIMENSION};
use gantry_local::LocalEmbeddingProvider;
use gantry_providers::{Provider, ProviderError};
#[tokio::test]
async fn tiny_bert_embeddings_are_unit_vectors() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(dir.path()).unwrap();
    let provider = LocalEmbeddingProvider::load(dir.path()).unwrap();
    assert_eq!(provider.dimension(), TINY_BERT_DIMENSION);
    let texts: Vec<String> = (0..40).map(|i| format!("the cat sat on the mat {i}")).collect();
    let response = provider.embed(embed_request(EmbeddingInput::Many(texts.clone()))).await.unwrap();
    assert_eq!(response.object, "list");
    assert_eq!(response.model, "emb");
    assert_eq!(response.data.len(), 40);
    assert!(response.data.iter().enumerate().all(|(i, d)| d.index == i as u32 && d.object == "embedding"));
    let vs = vectors(&response);
    for v in &vs {
        assert_eq!(v.len(), TINY_BERT_DIMENSION);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    // Padding must not change a vector: the same text alone and in a batch with longer ones.
    let alone = provider.embed(embed_request(EmbeddingInput::One(texts[0].clone()))).await.unwrap();
    let alone = &vectors(&alone)[0];
    assert!(cosine(alone, &vs[0]) > 0.9999);
    let long = provider
        .embed(embed_request(EmbeddingInput::Many(vec![
            texts[0].clone(),
            "the dog is sitting on the rug today ".repeat(5),
        ])))
        .await
        .unwrap();
    assert!(cosine(alone, &vectors(&long)[0]) > 0.9999);
    // [CLS] the cat sat on the mat 0 [SEP]
    assert_eq!(alone.len(), TINY_BERT_DIMENSION);
    let one = provider.embed(embed_request(EmbeddingInput::One("the cat".into()))).await.unwrap();
    assert_eq!(one.usage.prompt_tokens, 4);
    assert_eq!(one.usage.total_tokens, 4);

    let err = provider.embed(embed_request(EmbeddingInput::Tokens(vec![1, 2]))).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest(_)));
    let err = provider.embed(embed_request(EmbeddingInput::Many(vec!["a".into(), String::new()]))).await.unwrap_err();
    assert!(err.to_string().contains("input[1]"), "{err}");
    assert!(matches!(provider.chat(ask("hi")).await, Err(ProviderError::Unsupported(_))));
}
