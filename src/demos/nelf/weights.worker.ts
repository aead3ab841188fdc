/**
 * Weights worker: parses MobileR2L checkpoints (zip, pickle, tensor copies) off the main thread.
 * The viewer builds the GPU network from the result.
 */
import * as Comlink from 'comlink';
import { recordBuffers, tensorRecords, type TensorRecord } from '../../formats/tensor.ts';
import { readNelfWeights, type NelfWeights } from './weights.ts';

/** NelfWeights with its tensors as plain records (see formats/tensor.ts). */
export type NelfWeightsRecord = Omit<NelfWeights, 'tensors'> & { tensors: Map<string, TensorRecord> };

export interface WeightsWorkerApi {
  read(bytes: ArrayBuffer, name: string): NelfWeightsRecord;
}

const api: WeightsWorkerApi = {
  read(bytes, name) {
    if (!(bytes instanceof ArrayBuffer)) throw new TypeError('expected an ArrayBuffer holding the weights');
    const { tensors, ...rest } = readNelfWeights(new Uint8Array(bytes), String(name));
    const records = tensorRecords(tensors);
    return Comlink.transfer({ ...rest, tensors: records }, recordBuffers(records));
  },
};

Comlink.expose(api);
