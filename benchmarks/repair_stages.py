#!/usr/bin/env python
"""dehum and declick on generated and real speech: how much hum and how many clicks leave.

    OMP_NUM_THREADS=1 python benchmarks/repair_stages.py

Hum (harmonics falling 4.4 dB each) 20 dB below a generated voice at 50 Hz, 60 Hz and 60.02 Hz
drifting by +-0.02 Hz, and at 50.03 Hz below 10 s of real speech (the first held-out voice of
``runs/separation/data/val/voice.txt``); clicks of 1-8 samples on a generated voice with speech's
spectral tilt and on that real speech (peak 0.5), with the repair's CPU time per second of audio
(one thread) and what it touches on the clean speech. Reductions: energy of the damage over
energy of what is left of it (output minus the clean signal), in dB. Uses the test suite's signal
generators (``tests/helpers.py``, ``tests/dsp/test_hum.py``).
"""
import sys, time, numpy as np, soundfile as sf, soxr, torch
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tests'), str(ROOT / 'tests' / 'dsp')]
torch.set_num_threads(1)
import test_hum as T
from helpers import smooth_voice, clicks
from aural.dsp.clicks import ClickRepairer
sr=48000
for m,drift,sec,seed in ((50.0,0,8.0,1),(60.0,0,8.0,1),(60.02,0.02,10.0,2)):
    v=T.voiced(sr,sec,seed=seed).astype(np.float64); n=T.at_level(T.hum(sec,m,drift_hz=drift),v,-20.0)
    print('hum',m,drift, round(T.reduction_db(n,T.dehum(v+n)[0]-v),1))
f=open(ROOT / 'runs/separation/data/val/voice.txt').read().split()[0]
x,fs=sf.read(f); x=x if x.ndim==1 else x.mean(1); x=soxr.resample(x,fs,sr)[:sr*10]; x=x/np.sqrt(np.mean(x**2))*10**(-26/20)
n=T.at_level(T.hum(len(x)/sr,50.03),x,-20.0); print('hum real speech', round(T.reduction_db(n,T.dehum(x+n)[0]-x),1), f.split('/')[-1])
def rep(a):
    r=ClickRepairer(sr,1); y=a[None]; t=time.process_time()
    out=np.concatenate([r.process(y[:,i:i+65536]) for i in range(0,y.shape[1],65536)]+[r.process(np.zeros((1,r.latency_samples)))],1)[0,r.latency_samples:r.latency_samples+len(a)]
    return out, r.repaired_samples, (time.process_time()-t)/(len(a)/sr)
v=smooth_voice(8.0); c=clicks(len(v)); o,nr,rtf=rep(v+c); print('clicks smooth voice', round(10*np.log10(np.sum(c**2)/np.sum((o-v)**2)),1), 'cpu rtf', round(rtf,3))
s=x/np.max(np.abs(x))*0.5; c=clicks(len(s),level=0.5); o,nr,rtf=rep(s+c); print('clicks real speech', round(10*np.log10(np.sum(c**2)/np.sum((o-s)**2)),1), 'cpu rtf', round(rtf,3))
o,nr,_=rep(s); print('clean speech touched', nr, 'err dB', round(10*np.log10(np.sum((o-s)**2)/np.sum(s**2)+1e-30),1))
