"""The same tiny weights through open_clip, OpenAI clip and HF transformers give the same features."""
import pytest
import torch

TOL = 1e-4


@pytest.mark.parametrize("arch, backends", [("vit", ("openai", "hf")), ("resnet", ("openai",))])
def test_same_features_across_backends(tiny_models, arch, backends):
    reference = tiny_models[("open_clip", arch)]
    size = reference.image_size
    images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    ids = reference.tokenize(["a photo of a red dress", "a blue shirt with long sleeves"])
    with torch.no_grad():
        expected = {
            "image": reference.encode_image(images), "text": reference.encode_text(ids),
            "tokens": reference.encode_image_tokens(images), "text_tokens": reference.encode_text_tokens(ids),
            # the wrapper's own text loop equals open_clip's native forward
            "native_text": reference.model.encode_text(ids),
        }
        assert (expected["native_text"] - expected["text"]).abs().max() <= TOL
        for backend in backends:
            model = tiny_models[(backend, arch)]
            assert (model.embed_dim, model.vision_width, model.text_width, model.image_size, model.context_length) == (
                reference.embed_dim, reference.vision_width, reference.text_width, reference.image_size,
                reference.context_length)
            assert (model.encode_image(images) - expected["image"]).abs().max() <= TOL
            assert (model.encode_text(ids) - expected["text"]).abs().max() <= TOL
            assert (model.encode_image_tokens(images) - expected["tokens"]).abs().max() <= TOL
            assert (model.encode_text_tokens(ids) - expected["text_tokens"]).abs().max() <= TOL


def test_vit_tokens_before_and_after_ln_post(tiny_models):
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for backend in ("open_clip", "openai", "hf"):
        model = tiny_models[(backend, "vit")]
        with torch.no_grad():
            before = model.encode_image_tokens(images)
            after = model.encode_image_tokens(images, after_ln_post=True)
            with_cls = model.encode_image_tokens(images, after_ln_post=True, include_cls=True)
            pooled = model.encode_image(images)
        assert before.shape == after.shape == (2, 16, model.vision_width)  # (32 / 8)^2 patches, CLS dropped
        assert with_cls.shape == (2, 17, model.vision_width)
        # ln_post (weight 1, bias 0 at init) standardises every token; the projected CLS is the global feature
        assert after.mean(-1).abs().max() < 1e-4 and (after.std(-1, correction=0) - 1).abs().max() < 1e-3
        assert before.std(-1, correction=0).sub(1).abs().max() > 1e-2
        proj = {"open_clip": lambda x: x @ model.model.visual.proj, "openai": lambda x: x @ model.model.visual.proj,
                "hf": lambda x: model.vision.visual_projection(x)}[backend]
        assert (proj(with_cls[:, 0]) - pooled).abs().max() <= TOL


def test_resnet_tokens_are_the_final_map(tiny_models):
    model = tiny_models[("openai", "resnet")]
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        tokens = model.encode_image_tokens(images)
    assert tokens.shape == (1, 4, model.vision_width) and model.vision_width == 16 * 32
    with pytest.raises(ValueError, match="no ln_post"):
        model.encode_image_tokens(images, after_ln_post=True)
