#include "models/sam3/detr.h"

#include "segkit/error.h"

namespace segkit::sam3 {

Detr Detr::load(const nn::WeightMap& w, const std::string& prefix, const DetrConfig& c) {
  Detr d;
  d.config_ = c;
  d.has_geometry_ = w.contains(prefix + "geometry_encoder.final_proj.weight");
  if (d.has_geometry_) d.geometry_ = GeometryEncoder::load(w, prefix, c.geometry);
  d.encoder_ = DetrEncoder::load(w, prefix, c.encoder);
  d.decoder_ = DetrDecoder::load(w, prefix, c.decoder);
  d.scoring_ = DotProductScoring::load(w, prefix, c.decoder);
  return d;
}

DetrOutput Detr::forward(const DetrInputs& in) const {
  GeometryEncoderOutput geometry;
  // transformers skips the geometry encoder for an empty box tensor.
  if (in.boxes.defined() && in.boxes.numel() > 0) {
    if (!has_geometry_) fail("SAM 3", "box prompts need the geometry encoder, which this checkpoint lacks");
    geometry = geometry_.forward(in.features, in.pos, in.boxes, in.box_labels);
  }
  DetrOutput out;
  out.prompt = concat_prompt(in.text, in.text_mask, geometry);
  at::Tensor tokens = out.prompt.tokens, mask = out.prompt.mask;
  // One phrase for a batch of images: the same prompt for each.
  const int64_t b = in.features.defined() && in.features.dim() == 4 ? in.features.size(0) : 1;
  if (tokens.size(0) == 1 && b > 1) {
    tokens = tokens.expand({b, tokens.size(1), tokens.size(2)});
    mask = mask.expand({b, mask.size(1)});
    out.prompt = {tokens, mask};
  }
  out.encoded = encoder_.forward(in.features, in.pos, tokens, mask);
  const DetrDecoderOutput decoded = decoder_.forward(out.encoded, tokens, mask);
  out.queries = decoded.hidden[-1];
  out.pred_logits = scoring_(out.queries, tokens, mask);
  out.pred_boxes = cxcywh_to_xyxy(decoded.boxes);
  out.presence_logits = decoded.presence_logits[-1];
  out.decoder_reference_boxes = decoded.reference_boxes;
  return out;
}

}  // namespace segkit::sam3
